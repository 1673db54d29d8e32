using Bazaar.Dashboard;
using Bazaar.Dashboard.Telemetry;
using Microsoft.Extensions.Options;

namespace Bazaar.UnitTests.Dashboard;

/// <summary>The store on a real SQLite file in a temporary directory.</summary>
public sealed class TelemetryStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("bazaar-store-").FullName;
    private readonly TelemetryStore _store;

    public TelemetryStoreTests() => _store = Open(maxSpans: 1_000, maxLogs: 1_000);

    private TelemetryStore Open(int maxSpans, int maxLogs) => new(Options.Create(new DashboardOptions
    {
        DataDirectory = _directory,
        MaxSpans = maxSpans,
        MaxLogs = maxLogs,
    }));

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private static SpanData Span(string traceId, string spanId, string parent = "", string resource = "catalog-api", long startMs = 0, long durationMs = 1, SpanStatus status = SpanStatus.Unset) =>
        new(TraceId.Parse(traceId), SpanId.Parse(spanId), SpanId.Parse(parent), resource, resource + "-0", "test", "span " + spanId, SpanKind.Server,
            startMs * 1_000_000, (startMs + durationMs) * 1_000_000, status, "", "{}", "[]");

    private static LogData Log(string message, int severity = Severity.Information, string traceId = "") =>
        new(1, "order-api", "order-api-0", "Bazaar.Orders", severity, "", message, "{\"OrderId\":7}", TraceId.Parse(traceId), SpanId.None);

    private void Write(IEnumerable<SpanData>? spans = null, IEnumerable<LogData>? logs = null) =>
        _store.Write([new TelemetryBatch([.. spans ?? []], [.. logs ?? []], [])]);

    [Fact]
    public async Task Beyond_the_span_limit_the_oldest_spans_are_dropped_first()
    {
        for (var batch = 0; batch < 3; batch++)
        {
            Write(Enumerable.Range(batch * 500, 500).Select(i => Span($"{i:x32}", $"{i:x16}", startMs: i)));
        }

        var counts = await _store.GetCountsAsync(CancellationToken.None);
        Assert.Equal(1_000, counts.Spans);
        Assert.Null(await _store.GetTraceAsync($"{499:x32}", CancellationToken.None));
        Assert.NotNull(await _store.GetTraceAsync($"{500:x32}", CancellationToken.None));
    }

    [Fact]
    public async Task A_trace_summary_names_its_root_counts_errors_and_lists_every_service()
    {
        var trace = new string('a', 32);
        Write([
            Span(trace, "0000000000000002", parent: "0000000000000001", resource: "catalog-api", startMs: 5, durationMs: 10, status: SpanStatus.Error),
            Span(trace, "0000000000000001", resource: "admin", startMs: 0, durationMs: 30),
        ]);

        var summary = Assert.Single(await _store.GetTracesAsync(new TraceQuery(), CancellationToken.None));

        Assert.Equal("span 0000000000000001", summary.RootName);
        Assert.Equal("admin", summary.RootResource);
        Assert.Equal(["admin", "catalog-api"], summary.Resources);
        Assert.Equal(1, summary.ErrorCount);
        Assert.Equal(30, summary.DurationMs, precision: 3);
    }

    [Fact]
    public async Task Traces_filter_by_a_resource_they_touch_by_minimum_duration_and_by_errors()
    {
        Write([
            Span(new string('1', 32), "0000000000000001", resource: "admin", durationMs: 5),
            Span(new string('2', 32), "0000000000000001", resource: "order-api", durationMs: 500, status: SpanStatus.Error),
        ]);

        Assert.Equal(new string('1', 32), Assert.Single(await _store.GetTracesAsync(new TraceQuery(Resource: "admin"), CancellationToken.None)).TraceId);
        Assert.Equal(new string('2', 32), Assert.Single(await _store.GetTracesAsync(new TraceQuery(MinDurationMs: 100), CancellationToken.None)).TraceId);
        Assert.Equal(new string('2', 32), Assert.Single(await _store.GetTracesAsync(new TraceQuery(ErrorsOnly: true), CancellationToken.None)).TraceId);
    }

    [Fact]
    public async Task The_waterfall_lists_children_right_after_their_parent()
    {
        var trace = new string('b', 32);
        Write([
            Span(trace, "0000000000000001", startMs: 0, durationMs: 100),
            Span(trace, "0000000000000003", parent: "0000000000000001", startMs: 50),
            Span(trace, "0000000000000002", parent: "0000000000000001", startMs: 10),
            Span(trace, "0000000000000004", parent: "0000000000000002", startMs: 20),
        ]);

        var detail = await _store.GetTraceAsync(trace, CancellationToken.None);

        Assert.Equal(["0000000000000001", "0000000000000002", "0000000000000004", "0000000000000003"], detail!.Spans.Select(s => s.SpanId));
    }

    [Fact]
    public async Task Logs_filter_by_level_text_and_trace()
    {
        var trace = new string('c', 32);
        Write(logs: [Log("Order placed"), Log("Payment declined", Severity.Error, trace), Log("Stock low", Severity.Warning)]);

        Assert.Equal(["Payment declined", "Stock low"], (await _store.GetLogsAsync(new LogQuery(MinSeverity: Severity.Warning), CancellationToken.None)).Select(l => l.Message).Order());
        Assert.Equal("Order placed", Assert.Single(await _store.GetLogsAsync(new LogQuery(Text: "PLACED"), CancellationToken.None)).Message);
        Assert.Equal("Error", Assert.Single(await _store.GetLogsAsync(new LogQuery(TraceId: trace), CancellationToken.None)).Level);
    }

    [Fact]
    public async Task Traces_whose_ids_share_their_first_64_bits_stay_apart_and_ids_keep_every_bit()
    {
        // The index holds the high half only; the low half and the full 64 bits of span ids must still decide.
        var first = "ffffffffffffffff" + "0000000000000001";
        var second = "ffffffffffffffff" + "8000000000000000";
        Write(
            [Span(first, "ffffffffffffffff", startMs: 0), Span(second, "8000000000000001", parent: "ffffffffffffffff", startMs: 1)],
            [Log("first", traceId: first), Log("second", traceId: second)]);

        var detail = await _store.GetTraceAsync(first.ToUpperInvariant(), CancellationToken.None);

        Assert.Equal(first, detail!.TraceId);
        Assert.Equal("ffffffffffffffff", Assert.Single(detail.Spans).SpanId);
        Assert.Equal("first", Assert.Single(detail.Logs).Message);
        Assert.Equal([first, second], (await _store.GetTracesAsync(new TraceQuery(), CancellationToken.None)).Select(t => t.TraceId).Order(StringComparer.Ordinal));
        Assert.Equal("8000000000000001", Assert.Single((await _store.GetTraceAsync(second, CancellationToken.None))!.Spans).SpanId);
        Assert.Equal(second, Assert.Single(await _store.GetLogsAsync(new LogQuery(TraceId: second), CancellationToken.None)).TraceId);
    }

    [Fact]
    public async Task Text_that_is_not_a_trace_id_finds_no_trace_and_no_logs()
    {
        Write([Span(new string('f', 32), "0000000000000001")], [Log("outside any trace")]);

        Assert.Null(await _store.GetTraceAsync("not-a-trace-id", CancellationToken.None));
        Assert.Null(await _store.GetTraceAsync(new string('0', 32), CancellationToken.None));
        Assert.Empty(await _store.GetLogsAsync(new LogQuery(TraceId: "not-a-trace-id"), CancellationToken.None));
        Assert.Empty(await _store.GetLogsAsync(new LogQuery(TraceId: new string('0', 32)), CancellationToken.None));
        Assert.Equal("", Assert.Single(await _store.GetLogsAsync(new LogQuery(), CancellationToken.None)).TraceId);
    }

    [Fact]
    public async Task Clear_deletes_everything()
    {
        Write([Span(new string('d', 32), "0000000000000001")], [Log("x")]);

        _store.Clear();

        Assert.Equal(new TelemetryCounts(0, 0, 0), await _store.GetCountsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task What_was_written_is_there_when_the_file_is_opened_again()
    {
        Write([Span(new string('e', 32), "0000000000000001")]);
        _store.Dispose();

        using var reopened = Open(maxSpans: 1_000, maxLogs: 1_000);

        Assert.NotNull(await reopened.GetTraceAsync(new string('e', 32), CancellationToken.None));
    }
}
