using System.Text.Json.Serialization;

namespace Bazaar.Dashboard.Telemetry;

/// <summary>A span as stored: ids in lower-case hex, times in Unix nanoseconds, attributes and events as JSON.</summary>
public sealed record SpanData(
    string TraceId,
    string SpanId,
    string ParentSpanId,
    string Resource,
    string Instance,
    string Scope,
    string Name,
    SpanKind Kind,
    long StartNs,
    long EndNs,
    SpanStatus Status,
    string StatusMessage,
    string AttributesJson,
    string EventsJson);

[JsonConverter(typeof(JsonStringEnumConverter<SpanKind>))]
public enum SpanKind { Unspecified = 0, Internal = 1, Server = 2, Client = 3, Producer = 4, Consumer = 5 }

[JsonConverter(typeof(JsonStringEnumConverter<SpanStatus>))]
public enum SpanStatus { Unset = 0, Ok = 1, Error = 2 }

/// <summary>A structured log record; severity uses OTLP's severity numbers (9 = Information, 17 = Error).</summary>
public sealed record LogData(
    long TimeNs,
    string Resource,
    string Instance,
    string Scope,
    int Severity,
    string SeverityText,
    string Message,
    string AttributesJson,
    string TraceId,
    string SpanId);

[JsonConverter(typeof(JsonStringEnumConverter<InstrumentKind>))]
public enum InstrumentKind { Gauge = 0, Sum = 1, Histogram = 2 }

/// <summary>One data point of one instrument. Histograms carry bounds and bucket counts; the others a value.</summary>
public sealed record MetricPointData(
    string Resource,
    string Instance,
    string Scope,
    string Name,
    string Description,
    string Unit,
    InstrumentKind Kind,
    bool IsMonotonic,
    long TimeNs,
    string AttributesJson,
    double Value,
    long Count,
    double Sum,
    double[] Bounds,
    long[] BucketCounts);

/// <summary>What one OTLP request delivered; written to storage as one unit of a larger transaction.</summary>
public sealed record TelemetryBatch(
    IReadOnlyList<SpanData> Spans,
    IReadOnlyList<LogData> Logs,
    IReadOnlyList<MetricPointData> Points)
{
    public int Count => Spans.Count + Logs.Count + Points.Count;
}
