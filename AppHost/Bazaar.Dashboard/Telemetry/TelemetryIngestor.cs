using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bazaar.Dashboard.Telemetry;

/// <summary>
/// Decouples the receiver from storage: requests enqueue their rows and return, one loop writes whatever
/// has queued up in a single transaction. Batching many requests per transaction is what lets SQLite keep
/// up with tens of thousands of spans a second. A full queue makes senders wait (their exporters retry).
/// </summary>
public sealed partial class TelemetryIngestor(TelemetryStore store, ReceiverStatistics statistics, ILogger<TelemetryIngestor> logger) : BackgroundService
{
    private const int MaxRowsPerTransaction = 20_000;

    private readonly Channel<TelemetryBatch> _queue = Channel.CreateBounded<TelemetryBatch>(
        new BoundedChannelOptions(4_096) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public ValueTask EnqueueAsync(TelemetryBatch batch, CancellationToken cancellationToken) =>
        batch.Count == 0 ? ValueTask.CompletedTask : _queue.Writer.WriteAsync(batch, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Not the stopping token: on shutdown the queue is completed and drained, so nothing received is lost.
        var batches = new List<TelemetryBatch>();
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            var rows = 0;
            while (rows < MaxRowsPerTransaction && _queue.Reader.TryRead(out var batch))
            {
                batches.Add(batch);
                rows += batch.Count;
            }
            try
            {
                store.Write(batches);
                statistics.Stored(batches);
            }
            catch (Exception exception)
            {
                LogWriteFailed(logger, exception, rows);
            }
            batches.Clear();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not store {Rows} telemetry rows")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, int rows);
}

/// <summary>What the receiver has seen since start; shown on the dashboard and used by the benchmark.</summary>
public sealed class ReceiverStatistics
{
    private long _spans, _logs, _points, _malformed;

    public long StoredSpans => Interlocked.Read(ref _spans);
    public long StoredLogs => Interlocked.Read(ref _logs);
    public long StoredPoints => Interlocked.Read(ref _points);
    public long MalformedRequests => Interlocked.Read(ref _malformed);

    internal void Malformed() => Interlocked.Increment(ref _malformed);

    internal void Stored(IReadOnlyList<TelemetryBatch> batches)
    {
        foreach (var batch in batches)
        {
            Interlocked.Add(ref _spans, batch.Spans.Count);
            Interlocked.Add(ref _logs, batch.Logs.Count);
            Interlocked.Add(ref _points, batch.Points.Count);
        }
    }
}
