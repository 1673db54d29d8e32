using System.Runtime.InteropServices;
using System.Threading.Channels;
using Bazaar.Dashboard.Otlp;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Bazaar.Dashboard.Telemetry;

/// <summary>Which kind of rows one OTLP request carries (each request is of exactly one signal).</summary>
public enum TelemetrySignal { Spans, Logs, Points }

/// <summary>A decoded OTLP request waiting for the writer: its row count, and how to turn it into rows.</summary>
internal readonly record struct PendingTelemetry(TelemetrySignal Signal, int Rows, Func<OtlpConverter, TelemetryBatch> Convert);

/// <summary>
/// Decouples the receiver from storage: a request only decodes its body and queues it; one loop converts whatever
/// has queued up and writes it in a single transaction with the trim, at most once per <see cref="DashboardOptions.WriteInterval"/>.
/// The queue is bounded in rows. When it is full the oldest requests are dropped and counted, so an exporter is
/// never held up by the dashboard (a held-up exporter fills its own queue and drops the newest spans instead).
/// </summary>
public sealed partial class TelemetryIngestor : IHostedService
{
    private const int MaxRowsPerTransaction = 20_000;

    private readonly TelemetryStore _store;
    private readonly ReceiverStatistics _statistics;
    private readonly TimeProvider _time;
    private readonly ILogger<TelemetryIngestor> _logger;
    private readonly int _maxQueuedRows;
    private readonly int _writerNice;
    private readonly TimeSpan _writeInterval;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Channel<PendingTelemetry> _queue = Channel.CreateUnbounded<PendingTelemetry>(new UnboundedChannelOptions { SingleWriter = false, SingleReader = false });
    private long _queuedRows;
    private Task? _writer;

    public TelemetryIngestor(TelemetryStore store, ReceiverStatistics statistics, IOptions<DashboardOptions> options, TimeProvider time, ILogger<TelemetryIngestor> logger)
    {
        _store = store;
        _statistics = statistics;
        _time = time;
        _logger = logger;
        _maxQueuedRows = options.Value.MaxQueuedRows;
        _writerNice = options.Value.WriterNice;
        _writeInterval = options.Value.WriteInterval;
    }

    /// <summary>Rows received and not yet written.</summary>
    public long QueuedRows => Interlocked.Read(ref _queuedRows);

    internal void Enqueue(PendingTelemetry pending)
    {
        if (pending.Rows == 0) return;
        if (!_queue.Writer.TryWrite(pending))
        {
            // Stopping: the loop has drained what it will write.
            _statistics.Dropped(pending.Signal, pending.Rows);
            return;
        }
        var queued = Interlocked.Add(ref _queuedRows, pending.Rows);
        // Drop-oldest: the newest telemetry is what someone looking at the dashboard right now wants.
        while (queued > _maxQueuedRows && _queue.Reader.TryRead(out var oldest))
        {
            queued = Interlocked.Add(ref _queuedRows, -oldest.Rows);
            _statistics.Dropped(oldest.Signal, oldest.Rows);
        }
    }

    // Started here rather than from BackgroundService.ExecuteAsync, which .NET runs on the thread pool only if it
    // has not been asked to stop first: a start followed at once by a stop would have dropped what was queued.
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _writer ??= StartWriter();
        return Task.CompletedTask;
    }

    /// <summary>Completes the queue and waits until everything received before is written.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        _queue.Writer.TryComplete();
        if (_writer is not null) await _writer.WaitAsync(cancellationToken);
    }

    private Task StartWriter()
    {
        // A thread of its own, so that it alone can be given a lower CPU priority: on a machine the services
        // saturate, storing their telemetry yields to them, the queue fills and sheds its oldest rows (counted),
        // instead of the dashboard taking a core away from the requests it is recording.
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                LowerPriority(_writerNice);
                WriteLoop();
                done.SetResult();
            }
            catch (Exception exception)
            {
                done.SetException(exception);
            }
        })
        { IsBackground = true, Name = "Telemetry writer" };
        thread.Start();
        return done.Task;
    }

    private void WriteLoop()
    {
        // Ends when the queue is completed and drained (StopAsync), so nothing received before a stop is lost.
        var converter = new OtlpConverter();
        var batches = new List<TelemetryBatch>();
        long? lastWrite = null;
        while (_queue.Reader.WaitToReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult())
        {
            // Let rows gather until the interval since the last transaction is over: each commit rewrites every
            // index page its rows touched, and trace ids are random, so a few large transactions touch far fewer
            // pages per row than many small ones. A stop or a full transaction's worth of rows ends the wait.
            var wait = lastWrite is { } last ? _writeInterval - _time.GetElapsedTime(last) : TimeSpan.Zero;
            if (wait > TimeSpan.Zero && QueuedRows < MaxRowsPerTransaction && !_stopping.IsCancellationRequested)
            {
                try
                {
                    Task.Delay(wait, _time, _stopping.Token).GetAwaiter().GetResult();
                }
                catch (OperationCanceledException)
                {
                    // Stopping: write what has queued up now.
                }
            }
            lastWrite = _time.GetTimestamp();
            var rows = 0;
            while (rows < MaxRowsPerTransaction && _queue.Reader.TryRead(out var pending))
            {
                Interlocked.Add(ref _queuedRows, -pending.Rows);
                rows += pending.Rows;
                try
                {
                    batches.Add(pending.Convert(converter));
                }
                catch (ArgumentException exception)
                {
                    // A value JSON cannot hold (an unpaired surrogate): that request is lost, not the others.
                    _statistics.Malformed();
                    _statistics.Dropped(pending.Signal, pending.Rows);
                    LogConvertFailed(_logger, exception, pending.Rows);
                }
            }
            try
            {
                // The trim shares the insert's transaction: the pages both touch are written once.
                _store.Write(batches);
                _statistics.Stored(batches);
                _statistics.Written();
            }
            catch (Exception exception)
            {
                LogWriteFailed(_logger, exception, rows);
            }
            batches.Clear();
        }
    }

    // Linux's nice applies per thread: raising it for the calling thread needs no privilege. Elsewhere the writer
    // keeps the normal priority.
    private void LowerPriority(int nice)
    {
        if (nice == 0 || !OperatingSystem.IsLinux()) return;
        try
        {
            if (SetPriority(PriorityProcess, GetThreadId(), nice) != 0) LogPriorityUnchanged(_logger, nice, Marshal.GetLastPInvokeError());
        }
        catch (Exception exception) when (exception is DllNotFoundException or EntryPointNotFoundException)
        {
            LogPriorityUnchanged(_logger, nice, -1);
        }
    }

    private const int PriorityProcess = 0;

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetThreadId();

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not store {Rows} telemetry rows")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, int rows);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The telemetry writer keeps its priority (nice {Nice} refused, error {Error})")]
    private static partial void LogPriorityUnchanged(ILogger logger, int nice, int error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not convert an OTLP request of {Rows} rows")]
    private static partial void LogConvertFailed(ILogger logger, Exception exception, int rows);
}

/// <summary>What the receiver has seen since start; shown on the dashboard and used by the benchmark.</summary>
public sealed class ReceiverStatistics
{
    private long _spans, _logs, _points, _malformed, _droppedSpans, _droppedLogs, _droppedPoints, _transactions;

    public long StoredSpans => Interlocked.Read(ref _spans);
    public long StoredLogs => Interlocked.Read(ref _logs);
    public long StoredPoints => Interlocked.Read(ref _points);
    public long MalformedRequests => Interlocked.Read(ref _malformed);

    /// <summary>Rows received but dropped because the write queue was full (oldest first).</summary>
    public long DroppedSpans => Interlocked.Read(ref _droppedSpans);
    public long DroppedLogs => Interlocked.Read(ref _droppedLogs);
    public long DroppedPoints => Interlocked.Read(ref _droppedPoints);

    /// <summary>The writer's transactions since start: rows stored divided by these is its batch size.</summary>
    public long WriteTransactions => Interlocked.Read(ref _transactions);

    internal void Malformed() => Interlocked.Increment(ref _malformed);

    internal void Written() => Interlocked.Increment(ref _transactions);

    internal void Dropped(TelemetrySignal signal, int rows)
    {
        switch (signal)
        {
            case TelemetrySignal.Spans: Interlocked.Add(ref _droppedSpans, rows); break;
            case TelemetrySignal.Logs: Interlocked.Add(ref _droppedLogs, rows); break;
            default: Interlocked.Add(ref _droppedPoints, rows); break;
        }
    }

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
