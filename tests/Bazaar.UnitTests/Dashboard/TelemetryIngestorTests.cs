using Bazaar.Dashboard;
using Bazaar.Dashboard.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Bazaar.UnitTests.ServiceDefaults;

namespace Bazaar.UnitTests.Dashboard;

/// <summary>The ingest loop on a real SQLite store in a temporary directory.</summary>
public sealed class TelemetryIngestorTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("bazaar-ingest-").FullName;
    private readonly TelemetryStore _store;
    private readonly ReceiverStatistics _statistics = new();
    private readonly TelemetryIngestor _ingestor;

    public TelemetryIngestorTests()
    {
        var options = Options.Create(new DashboardOptions { DataDirectory = _directory, MaxSpans = 10_000, MaxQueuedRows = 1_000 });
        _store = new TelemetryStore(options);
        _ingestor = new TelemetryIngestor(_store, _statistics, options, TimeProvider.System, NullLogger<TelemetryIngestor>.Instance);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // Stopping completes the queue, so the writer thread ends whether or not a test started it.
        await _ingestor.StopAsync(CancellationToken.None);
        _store.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    // One request's worth of spans, each its own trace, named after the request.
    private static PendingTelemetry Request(int number, int spans) => new(TelemetrySignal.Spans, spans, _ => Batch(number, spans));

    private static TelemetryBatch Batch(int number, int spans) => new(
        [.. Enumerable.Range(0, spans).Select(i => new SpanData(
            TraceId.Parse($"{number:x8}{i:x24}"), new SpanId((ulong)i + 1), SpanId.None, "catalog-api", "catalog-api-0", "test", $"request {number}", SpanKind.Server,
            0, 1_000_000, SpanStatus.Unset, "", "{}", "[]"))],
        [],
        []);

    [Fact]
    public void The_store_signals_each_write_and_each_clear_to_the_pages_waiting_on_it()
    {
        var beforeWrite = _store.NextChange;
        Assert.False(beforeWrite.IsCompleted);

        _store.Write([Batch(1, 2)]);
        var beforeClear = _store.NextChange;
        Assert.False(beforeClear.IsCompleted);
        _store.Clear();

        Assert.True(beforeWrite.IsCompletedSuccessfully);
        Assert.True(beforeClear.IsCompletedSuccessfully);
        Assert.False(_store.NextChange.IsCompleted);
    }

    private async Task WaitUntilStoredAsync(long spans)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (_statistics.StoredSpans < spans) await Task.Delay(10, deadline.Token);
    }

    [Fact]
    public async Task A_full_queue_drops_the_oldest_requests_counts_them_and_stores_the_newest()
    {
        // Not started yet: nothing drains the queue, as when the writer falls behind.
        _ingestor.Enqueue(Request(1, 600));
        _ingestor.Enqueue(Request(2, 600));
        _ingestor.Enqueue(Request(3, 600));

        Assert.Equal(1_200, _statistics.DroppedSpans);
        Assert.Equal(600, _ingestor.QueuedRows);

        await _ingestor.StartAsync(CancellationToken.None);
        await WaitUntilStoredAsync(600);

        var traces = await _store.GetTracesAsync(new TraceQuery(Limit: 1_000), CancellationToken.None);
        Assert.Equal(600, traces.Count);
        Assert.All(traces, trace => Assert.Equal("request 3", trace.RootName));
        Assert.Equal(0, _ingestor.QueuedRows);
    }

    [Fact]
    public async Task Requests_queued_before_a_stop_are_stored_not_lost()
    {
        await _ingestor.StartAsync(CancellationToken.None);
        for (var number = 0; number < 5; number++) _ingestor.Enqueue(Request(number, 100));

        await _ingestor.StopAsync(CancellationToken.None);

        Assert.Equal(500, _statistics.StoredSpans);
        Assert.Equal(0, _statistics.DroppedSpans);
        Assert.Equal(500, (await _store.GetCountsAsync(CancellationToken.None)).Spans);
    }

    [Fact]
    public async Task Rows_that_arrive_within_the_write_interval_share_one_transaction()
    {
        var (ingestor, statistics, clock) = await WaitingForTheIntervalAsync(TimeSpan.FromSeconds(1));
        try
        {
            ingestor.Enqueue(Request(3, 100));
            ingestor.Enqueue(Request(4, 100));

            Assert.Equal(100, statistics.StoredSpans);
            clock.Advance(TimeSpan.FromSeconds(1));
            await WaitUntilAsync(() => statistics.StoredSpans == 400);

            Assert.Equal(2, statistics.WriteTransactions);
        }
        finally
        {
            await ingestor.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_stop_during_the_write_interval_writes_at_once()
    {
        var (ingestor, statistics, _) = await WaitingForTheIntervalAsync(TimeSpan.FromSeconds(5));

        await ingestor.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(200, statistics.StoredSpans);
    }

    // A started ingestor on a manual clock that has written request 1 at once and holds request 2 until the
    // interval since that write is over.
    private async Task<(TelemetryIngestor Ingestor, ReceiverStatistics Statistics, ManualTimeProvider Clock)> WaitingForTheIntervalAsync(TimeSpan interval)
    {
        var clock = new ManualTimeProvider();
        var statistics = new ReceiverStatistics();
        var options = Options.Create(new DashboardOptions { DataDirectory = _directory, MaxSpans = 10_000, WriteInterval = interval });
        var ingestor = new TelemetryIngestor(_store, statistics, options, clock, NullLogger<TelemetryIngestor>.Instance);
        await ingestor.StartAsync(CancellationToken.None);
        ingestor.Enqueue(Request(1, 100));
        await WaitUntilAsync(() => statistics.StoredSpans == 100);
        ingestor.Enqueue(Request(2, 100));
        await WaitUntilAsync(() => clock.PendingTimers.Count == 1);
        return (ingestor, statistics, clock);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition()) await Task.Delay(10, deadline.Token);
    }
}
