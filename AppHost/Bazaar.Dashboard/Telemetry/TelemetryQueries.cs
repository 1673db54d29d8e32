using System.Text.Json;

namespace Bazaar.Dashboard.Telemetry;

public sealed record TraceQuery(string? Resource = null, double MinDurationMs = 0, bool ErrorsOnly = false, int Limit = 100);

public sealed record TraceSummary(
    string TraceId,
    string RootName,
    string RootResource,
    IReadOnlyList<string> Resources,
    int SpanCount,
    int ErrorCount,
    DateTimeOffset StartTime,
    double DurationMs);

public sealed record SpanEventView(string Name, DateTimeOffset Time, JsonElement Attributes);

public sealed record SpanView(
    string SpanId,
    string ParentSpanId,
    string Resource,
    string Instance,
    string Scope,
    string Name,
    SpanKind Kind,
    DateTimeOffset StartTime,
    double OffsetMs,
    double DurationMs,
    SpanStatus Status,
    string StatusMessage,
    JsonElement Attributes,
    IReadOnlyList<SpanEventView> Events);

public sealed record TraceDetail(
    string TraceId,
    DateTimeOffset StartTime,
    double DurationMs,
    IReadOnlyList<string> Resources,
    IReadOnlyList<SpanView> Spans,
    IReadOnlyList<LogView> Logs);

public sealed record LogQuery(
    string? Resource = null,
    int MinSeverity = 0,
    string? Text = null,
    string? TraceId = null,
    int Limit = 200);

public sealed record LogView(
    long Id,
    DateTimeOffset Time,
    string Resource,
    string Instance,
    string Scope,
    int Severity,
    string Level,
    string Message,
    JsonElement Attributes,
    string TraceId,
    string SpanId);

public sealed record InstrumentView(long Id, string Resource, string Meter, string Name, string Description, string Unit, InstrumentKind Kind);

/// <summary>One point of a chart: per export, the instrument's value summed over its attribute sets,
/// or for histograms the percentiles of what was recorded since the previous export.</summary>
public sealed record SeriesPoint(DateTimeOffset Time, double Value, double? P50 = null, double? P90 = null, double? P99 = null);

/// <summary>One line per process (replica): counters of different replicas are separate cumulative sums.</summary>
public sealed record InstanceSeries(string Instance, IReadOnlyList<SeriesPoint> Points);

public sealed record MetricSeries(InstrumentView Instrument, IReadOnlyList<InstanceSeries> Instances);

/// <summary>Latest value of an instrument per attribute set, for the shop's overview figures.</summary>
public sealed record DimensionValue(string Resource, string Instance, JsonElement Attributes, double Value);

public sealed record TelemetryCounts(long Spans, long Logs, long MetricPoints);
