using System.ComponentModel.DataAnnotations;
using System.Data.Common;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MySqlConnector;

namespace Bazaar.Data;

/// <summary>Writes a group of items in the caller's transaction; returns one result per item, in the items' order.</summary>
public delegate Task<IReadOnlyList<TResult>> BatchWrite<TItem, TResult>(
    DbConnection connection, DbTransaction transaction, IReadOnlyList<TItem> items, CancellationToken cancellationToken);

/// <summary>
/// Adds to <paramref name="batch"/> the statements that write a group of items, without sending anything; returns one
/// result per item, in the items' order. The batch is then sent, with BEGIN and COMMIT, as the group's one command.
/// </summary>
public delegate IReadOnlyList<TResult> BatchStatements<TItem, TResult>(SqlBatch batch, IReadOnlyList<TItem> items);

/// <summary>How a <see cref="TransactionBatcher{TItem,TResult}"/> groups its work.</summary>
public sealed class TransactionBatcherOptions
{
    /// <summary>The most items one transaction takes.</summary>
    [Range(1, 10_000)]
    public int MaxBatchSize { get; set; } = 64;

    /// <summary>
    /// Loops writing at once. With two, one group fills while the other is on its way to the database; more only
    /// spread the same work over more, smaller transactions.
    /// </summary>
    [Range(1, 64)]
    public int Writers { get; set; } = 2;
}

/// <summary>
/// Group commit. Concurrent callers submit one unit of work each and await its result; a writer loop takes everything
/// waiting (up to <see cref="TransactionBatcherOptions.MaxBatchSize"/>, never waiting for more when the queue is
/// empty, so a lone caller pays no delay) and writes it in ONE transaction with one <see cref="BatchWrite{TItem,TResult}"/>
/// call, which should send it as one multi-statement command (<see cref="SqlBatch"/>). BEGIN and COMMIT are then
/// paid once per group instead of once per item.
/// A group whose writes need no answers from the database is best given as <see cref="BatchStatements{TItem,TResult}"/>:
/// its BEGIN, statements and COMMIT then travel as ONE command, a single round trip per group.
/// <para>
/// Failures stay with the item that caused them. A transient failure (deadlock, lost connection) reruns the whole group
/// through the data source's retry. Any other failure (a unique violation from one item, a bad value) rolls the group
/// back and writes each item alone in its own transaction, so only the guilty caller sees its error and the others
/// commit. A caller that cancels before its item is taken is dropped; once taken, the item is written with the group
/// (its caller stops waiting, the others are unaffected), so a caller must treat cancellation as "unknown outcome",
/// as with any commit whose answer was lost.
/// </para>
/// <para>
/// The writer loops run outside every caller's execution context: nothing ambient (Activity.Current, culture) flows
/// from the request that happened to start them, so anything per-caller that the write needs (such as the trace
/// context for outbox rows) must be captured in the item at submit time.
/// </para>
/// </summary>
public sealed partial class TransactionBatcher<TItem, TResult> : IAsyncDisposable
{
    private readonly MySqlDataSource _database;
    private readonly BatchWrite<TItem, TResult>? _write;
    private readonly BatchStatements<TItem, TResult>? _statements;
    private readonly string _name;
    private readonly int _maxBatchSize;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _queue;
    private readonly Task[] _writers;

    /// <summary>Groups written by <paramref name="write"/>, in a transaction begun before it and committed after it.</summary>
    /// <param name="name">Names the batch spans and log entries (for example <c>orders.place</c>).</param>
    public TransactionBatcher(MySqlDataSource database, string name, BatchWrite<TItem, TResult> write, TransactionBatcherOptions? options = null, ILogger? logger = null)
        : this(database, name, write ?? throw new ArgumentNullException(nameof(write)), statements: null, options, logger)
    {
    }

    /// <summary>Groups written by the statements that <paramref name="statements"/> adds, sent with BEGIN and COMMIT as one command.</summary>
    /// <param name="name">Names the batch spans and log entries (for example <c>orders.place</c>).</param>
    public TransactionBatcher(MySqlDataSource database, string name, BatchStatements<TItem, TResult> statements, TransactionBatcherOptions? options = null, ILogger? logger = null)
        : this(database, name, write: null, statements ?? throw new ArgumentNullException(nameof(statements)), options, logger)
    {
    }

    private TransactionBatcher(MySqlDataSource database, string name, BatchWrite<TItem, TResult>? write, BatchStatements<TItem, TResult>? statements,
        TransactionBatcherOptions? options, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        options ??= new TransactionBatcherOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Writers, 1);
        _database = database;
        _name = name;
        _write = write;
        _statements = statements;
        _maxBatchSize = options.MaxBatchSize;
        _logger = logger ?? NullLogger.Instance;
        // Not SingleReader even with one writer: only the multi-reader channel can count what waits (Waiting).
        _queue = Channel.CreateUnbounded<Pending>();
        _writers = new Task[options.Writers];
        using (ExecutionContext.SuppressFlow())
        {
            for (int i = 0; i < _writers.Length; i++)
            {
                _writers[i] = Task.Run(WriteLoopAsync);
            }
        }
    }

    /// <summary>Items queued and not yet taken by a writer.</summary>
    public int Waiting => _queue.Reader.Count;

    /// <summary>
    /// Queues <paramref name="item"/> for the next group and completes when that group has committed (with the item's
    /// result) or when the item failed on its own (with its exception).
    /// </summary>
    public Task<TResult> SubmitAsync(TItem item, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new Pending(item, Activity.Current?.Context ?? default, cancellationToken);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(GetType().Name, "The batcher is shutting down.");
        }

        return cancellationToken.CanBeCanceled ? pending.Done.Task.WaitAsync(cancellationToken) : pending.Done.Task;
    }

    /// <summary>Stops taking items, writes what is queued, and waits for the writers.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers).ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        ChannelReader<Pending> reader = _queue.Reader;
        var group = new List<Pending>(_maxBatchSize);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            while (group.Count < _maxBatchSize && reader.TryRead(out Pending? pending))
            {
                if (pending.CancellationToken.IsCancellationRequested)
                {
                    pending.Done.TrySetCanceled(pending.CancellationToken);
                }
                else
                {
                    group.Add(pending);
                }
            }

            if (group.Count > 0)
            {
                await WriteGroupAsync(group).ConfigureAwait(false);
            }
        }
    }

    private async Task WriteGroupAsync(List<Pending> group)
    {
        // One span per group, linked to every caller's trace (the group is not part of any single one of them).
        using Activity? activity = StartGroupActivity(group);
        try
        {
            IReadOnlyList<TResult> results = await WriteAsync(group.ConvertAll(static pending => pending.Item)).ConfigureAwait(false);
            for (int i = 0; i < group.Count; i++)
            {
                group[i].Done.TrySetResult(results[i]);
            }
        }
        catch (Exception exception) when (group.Count > 1 && !TransientErrors.IsTransient(exception))
        {
            // Someone in the group is guilty; each item alone finds out who, and only that caller sees the error.
            LogGroupFailed(_logger, _name, group.Count, exception);
            activity?.AddEvent(new ActivityEvent("batch.split"));
            foreach (Pending pending in group)
            {
                try
                {
                    IReadOnlyList<TResult> alone = await WriteAsync([pending.Item]).ConfigureAwait(false);
                    pending.Done.TrySetResult(alone[0]);
                }
                catch (Exception single)
                {
                    pending.Done.TrySetException(single);
                }
            }
        }
        catch (Exception exception)
        {
            // A lone item's own error, or the database is out of reach even after retries: nobody's work got in.
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            foreach (Pending pending in group)
            {
                pending.Done.TrySetException(exception);
            }
        }
    }

    // Not the callers' tokens: once taken, the group is written whoever stops waiting, so the others are not failed.
    private async Task<IReadOnlyList<TResult>> WriteAsync(IReadOnlyList<TItem> items)
    {
        if (_statements is not null)
        {
            var batch = new SqlBatch(_name + "_batch");
            IReadOnlyList<TResult> results = Checked(items, _statements(batch, items));
            await _database.InTransactionAsync(batch, cancellationToken: CancellationToken.None).ConfigureAwait(false);
            return results;
        }

        return await _database.InTransactionAsync(async (connection, transaction, token) =>
            Checked(items, await _write!(connection, transaction, items, token).ConfigureAwait(false)), CancellationToken.None).ConfigureAwait(false);
    }

    private IReadOnlyList<TResult> Checked(IReadOnlyList<TItem> items, IReadOnlyList<TResult> results) =>
        results.Count == items.Count
            ? results
            : throw new InvalidOperationException($"The batch write of '{_name}' returned {results.Count} results for {items.Count} items.");

    private Activity? StartGroupActivity(List<Pending> group)
    {
        if (!DataTelemetry.Source.HasListeners())
        {
            return null;
        }

        List<ActivityLink>? links = null;
        foreach (Pending pending in group)
        {
            if (pending.Caller != default)
            {
                (links ??= []).Add(new ActivityLink(pending.Caller));
            }
        }

        // Only groups of traced requests get a span: idle work never starts a trace of its own.
        if (links is null)
        {
            return null;
        }

        Activity? activity = DataTelemetry.Source.StartActivity(ActivityKind.Internal, parentContext: default, links: links, name: _name + " batch");
        activity?.SetTag("db.operation.batch.size", group.Count);
        return activity;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "A group of {Count} '{Name}' items failed; writing each alone")]
    private static partial void LogGroupFailed(ILogger logger, string name, int count, Exception exception);

    private sealed class Pending(TItem item, ActivityContext caller, CancellationToken cancellationToken)
    {
        public TItem Item { get; } = item;

        public ActivityContext Caller { get; } = caller;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        // Continuations run on the pool, not on the writer loop, so a slow caller cannot hold up the next group.
        public TaskCompletionSource<TResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
