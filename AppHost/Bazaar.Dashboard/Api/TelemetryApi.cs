using System.Text.RegularExpressions;
using Bazaar.Dashboard.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Bazaar.Dashboard.Api;

/// <summary>The stored telemetry as JSON, for scripts and tests (the pages read the store directly).</summary>
public static partial class TelemetryApi
{
    public const int MaxLimit = 1_000;

    public static IEndpointRouteBuilder MapTelemetryApi(this IEndpointRouteBuilder endpoints)
    {
        var traces = endpoints.MapGroup("/api/traces").WithTags("Traces");
        traces.MapGet("/", GetTracesAsync).WithName("GetTraces")
            .WithSummary("Recent traces, newest first").WithDescription("Filters: resource (a service touched), minDurationMs, errorsOnly; limit 1-1000.");
        traces.MapGet("/{traceId}", GetTraceAsync).WithName("GetTrace")
            .WithSummary("One trace: its spans (with attributes and events) in waterfall order and its logs");

        endpoints.MapGet("/api/logs", GetLogsAsync).WithTags("Logs").WithName("GetLogs")
            .WithSummary("Structured logs, newest first").WithDescription("Filters: resource, minSeverity (OTLP number, 9 = Information), text, traceId; limit 1-1000.");

        var metrics = endpoints.MapGroup("/api/metrics").WithTags("Metrics");
        metrics.MapGet("/instruments", GetInstrumentsAsync).WithName("GetInstruments").WithSummary("Instruments seen, by resource and meter");
        metrics.MapGet("/series", GetSeriesAsync).WithName("GetMetricSeries")
            .WithSummary("One instrument over the last minutes; histograms as P50/P90/P99");

        var telemetry = endpoints.MapGroup("/api/telemetry").WithTags("Telemetry");
        telemetry.MapGet("/stats", GetStatsAsync).WithName("GetTelemetryStats").WithSummary("Stored row counts and the receiver's counters");
        // DELETE, not POST: a cross-site page cannot send it without a CORS preflight, which this server never grants.
        telemetry.MapDelete("/", Clear).WithName("ClearTelemetry").WithSummary("Deletes every stored span, log and metric point");
        return endpoints;
    }

    public sealed record TraceListRequest(string? Resource, double? MinDurationMs, bool? ErrorsOnly, int? Limit);

    internal static async Task<Results<Ok<IReadOnlyList<TraceSummary>>, ValidationProblem>> GetTracesAsync(
        [AsParameters] TraceListRequest request, TelemetryStore store, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (request.MinDurationMs is < 0) errors["minDurationMs"] = ["Must be zero or more."];
        ValidateLimit(request.Limit, errors);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var query = new TraceQuery(request.Resource, request.MinDurationMs ?? 0, request.ErrorsOnly ?? false, request.Limit ?? 100);
        return TypedResults.Ok(await store.GetTracesAsync(query, cancellationToken));
    }

    internal static async Task<Results<Ok<TraceDetail>, ProblemHttpResult, ValidationProblem>> GetTraceAsync(
        string traceId, TelemetryStore store, CancellationToken cancellationToken)
    {
        if (!TraceIdPattern().IsMatch(traceId))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["traceId"] = ["A trace id is 32 hexadecimal digits."] });
        }
        var trace = await store.GetTraceAsync(traceId.ToLowerInvariant(), cancellationToken);
        return trace is null
            ? TypedResults.Problem(title: "Trace not found", detail: $"No span of trace {traceId} is stored.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(trace);
    }

    public sealed record LogListRequest(string? Resource, int? MinSeverity, string? Text, string? TraceId, int? Limit);

    internal static async Task<Results<Ok<IReadOnlyList<LogView>>, ValidationProblem>> GetLogsAsync(
        [AsParameters] LogListRequest request, TelemetryStore store, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (request.MinSeverity is < 0 or > 24) errors["minSeverity"] = ["An OTLP severity number is 0 to 24."];
        ValidateLimit(request.Limit, errors);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var query = new LogQuery(request.Resource, request.MinSeverity ?? 0, request.Text, request.TraceId?.ToLowerInvariant(), request.Limit ?? 200);
        return TypedResults.Ok(await store.GetLogsAsync(query, cancellationToken));
    }

    internal static async Task<Ok<IReadOnlyList<InstrumentView>>> GetInstrumentsAsync(
        string? resource, TelemetryStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(await store.GetInstrumentsAsync(resource, cancellationToken));

    public sealed record SeriesRequest(string? Resource, string? Meter, string? Name, int? Minutes);

    internal static async Task<Results<Ok<MetricSeries>, ProblemHttpResult, ValidationProblem>> GetSeriesAsync(
        [AsParameters] SeriesRequest request, TelemetryStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Resource)) errors["resource"] = ["Required."];
        if (string.IsNullOrWhiteSpace(request.Name)) errors["name"] = ["Required."];
        if (request.Minutes is < 1 or > 1440) errors["minutes"] = ["Between 1 and 1440."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var since = time.GetUtcNow().AddMinutes(-(request.Minutes ?? 5));
        var series = await store.GetSeriesAsync(request.Resource!, request.Meter ?? "", request.Name!, since, cancellationToken);
        return series is null
            ? TypedResults.Problem(title: "Instrument not found", detail: $"{request.Resource} has sent no instrument {request.Name} from meter '{request.Meter}'.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(series);
    }

    /// <summary>Rows in SQLite now, rows written since start ("received"), and rows the receiver shed because its queue was full.</summary>
    public sealed record TelemetryStats(
        long StoredSpans, long StoredLogs, long StoredMetricPoints, long ReceivedSpans, long ReceivedLogs, long ReceivedMetricPoints, long MalformedRequests,
        long DroppedSpans, long DroppedLogs, long DroppedMetricPoints, long QueuedRows, long WriteTransactions);

    internal static async Task<Ok<TelemetryStats>> GetStatsAsync(TelemetryStore store, ReceiverStatistics statistics, TelemetryIngestor ingestor, CancellationToken cancellationToken)
    {
        var counts = await store.GetCountsAsync(cancellationToken);
        return TypedResults.Ok(new TelemetryStats(
            counts.Spans, counts.Logs, counts.MetricPoints,
            statistics.StoredSpans, statistics.StoredLogs, statistics.StoredPoints, statistics.MalformedRequests,
            statistics.DroppedSpans, statistics.DroppedLogs, statistics.DroppedPoints, ingestor.QueuedRows, statistics.WriteTransactions));
    }

    internal static NoContent Clear(TelemetryStore store)
    {
        store.Clear();
        return TypedResults.NoContent();
    }

    private static void ValidateLimit(int? limit, Dictionary<string, string[]> errors)
    {
        if (limit is < 1 or > MaxLimit) errors["limit"] = [$"Between 1 and {MaxLimit}."];
    }

    [GeneratedRegex("^[0-9a-fA-F]{32}$")]
    private static partial Regex TraceIdPattern();
}
