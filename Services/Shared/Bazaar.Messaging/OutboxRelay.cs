using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Text;
using Bazaar.Data;
using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using MySqlConnector;

namespace Bazaar.Messaging;

/// <summary>
/// Publishes outbox rows in order and marks them sent only after the broker confirmed them.
/// Of the relays over one outbox (one per replica) only the one holding the lease publishes (<see cref="RelayLease"/>),
/// so relays in several replicas never publish the same row at the same time. A crash between publish and mark leaves
/// the rows unsent: they are published again (at-least-once) and the consumers' inbox turns the duplicate into a no-op.
/// While the broker is down nothing is marked and nothing is dropped: rows wait and the relay backs off.
/// </summary>
internal sealed partial class OutboxRelay : BackgroundService
{
    private const string OutboxColumns = """
        seq AS Seq, event_id AS EventId, event_type AS EventType, body AS Body,
        trace_parent AS TraceParent, trace_state AS TraceState, created_at AS CreatedAt
        """;

    // Two claims instead of one OR, so each is a range of ix_outbox_due and neither walks past rows that are not due.
    // No row locks: only the relay holding the lease publishes (RelayLease), and while it has a batch in flight the next
    // claim starts past that batch's last row (@after). FORCE INDEX: the optimizer may prefer the primary key for
    // ORDER BY seq LIMIT, which walks every published row kept for Retention before it finds a pending one;
    // RelayClaimPlanTests checks the plan with EXPLAIN, on an empty outbox and on 20 rows.
    internal const string ClaimDueText = $"""
        SELECT {OutboxColumns} FROM outbox FORCE INDEX (ix_outbox_due)
        WHERE sent_at IS NULL AND next_attempt_at <= @now AND seq > @after
        ORDER BY seq LIMIT @batchSize
        """;

    internal const string ClaimFreshText = $"""
        SELECT {OutboxColumns} FROM outbox FORCE INDEX (ix_outbox_due)
        WHERE sent_at IS NULL AND next_attempt_at IS NULL AND seq > @after
        ORDER BY seq LIMIT @batchSize
        """;

    private static readonly SqlStatement DeleteSent = new("outbox.delete_sent", """
        DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < @before ORDER BY seq LIMIT 1000
        """);

    internal static readonly SqlStatement Backlog = new("outbox.backlog", """
        SELECT COUNT(*) AS Pending, MIN(created_at) AS Oldest FROM outbox WHERE sent_at IS NULL
        """);

    // A bundle stops growing past this many characters of envelopes (about 256 KB), however many events it may carry.
    private const int MaxBundleChars = 256 * 1024;

    private static readonly TimeSpan[] QuickRepolls = [TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(15)];

    private readonly MySqlDataSource _dataSource;
    private readonly RelayLease _lease;
    private readonly BatchPublisher _publisher;
    private readonly MessagingOptions _options;
    private readonly MessagingTelemetry _telemetry;
    private readonly OutboxSignal _signal;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _unroutableSince = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _subscriberless = new(StringComparer.Ordinal);
    private DateTimeOffset _nextCleanup;
    private DateTimeOffset _nextBacklogSample;

    public OutboxRelay(
        MySqlDataSource dataSource,
        RabbitMQConnectionProvider connectionProvider,
        IOptions<MessagingOptions> options,
        MessagingTelemetry telemetry,
        OutboxSignal signal,
        TimeProvider timeProvider,
        ILogger<OutboxRelay> logger)
    {
        _dataSource = dataSource;
        // Two, one per batch in flight: the relay runs one transaction after another, and a pooled open per batch cost
        // three round trips (ping, default database, session SET) beside the batch's own.
        _options = options.Value;
        _lease = new RelayLease(dataSource, _options.RelayPollInterval, timeProvider);
        _publisher = new BatchPublisher(connectionProvider, _options.ExchangeName);
        _telemetry = telemetry;
        _signal = signal;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Test seam: runs after the batch was confirmed and before it is marked sent (a crash here is the interesting one).</summary>
    /// <remarks>Null unless a test sets it, directly or by registering <see cref="OutboxRelayTestPause"/>.</remarks>
    internal Func<IReadOnlyList<long>, CancellationToken, Task>? AfterPublishBeforeMark { get; set; }

    /// <summary>The service's <see cref="IRelayThrottle"/>, if it registered one.</summary>
    internal IRelayThrottle? Throttle { get; init; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.Zero;
        Task<int>? older = null;
        Task<int>? inFlight = null;
        Task<int>? current = null;
        long after = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (older is not null)
                {
                    await older.ConfigureAwait(false);
                    older = null;
                }

                if (inFlight is null && Throttle is not null)
                {
                    await Throttle.WaitAsync(stoppingToken).ConfigureAwait(false);
                }

                // While a full batch waits for its confirms and its commit, the next one is claimed and sent: the broker
                // and the database work on one while the relay prepares the other. At most two batches are in flight, the
                // second sent only after the first is on the wire (so in order), and marked only after the first
                // committed: if the first fails, the second is rolled back too and both are offered again, in order.
                var sent = new TaskCompletionSource<Claimed>(TaskCreationOptions.RunContinuationsAsynchronously);
                current = RelayBatchAsync(inFlight, after, sent, stoppingToken);
                var claimed = await sent.Task.ConfigureAwait(false);
                await HousekeepAsync(stoppingToken).ConfigureAwait(false);
                if (claimed.Count >= _options.RelayBatchSize && !current.IsCompleted)
                {
                    (older, inFlight, after) = (inFlight, current, claimed.LastSeq);
                    continue;
                }

                (inFlight, after) = (null, 0);
                var published = await current.ConfigureAwait(false);
                backoff = TimeSpan.Zero;
                if (published >= _options.RelayBatchSize)
                {
                    continue;
                }

                if (published >= _options.RelayGatherRows && _options.RelayGatherDelay > TimeSpan.Zero)
                {
                    // A stream of rows: let the next batch gather (its rows are already coming) instead of taking them a few at a time.
                    await Task.Delay(_options.RelayGatherDelay, _timeProvider, stoppingToken).ConfigureAwait(false);
                }
                else
                {
                    await WaitForWorkAsync(stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                await ObserveAsync(current, inFlight, older).ConfigureAwait(false);
                break;
            }
            catch (Exception exception)
            {
                await ObserveAsync(current, inFlight, older).ConfigureAwait(false);
                (older, inFlight, after) = (null, null, 0);
                backoff = backoff == TimeSpan.Zero
                    ? TimeSpan.FromMilliseconds(100)
                    : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.RelayMaxBackoff.Ticks));
                LogRelayFailed(_logger, exception, backoff);
                try
                {
                    await Task.Delay(backoff, _timeProvider, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    // Both tasks end soon after a failure (the later one waits for the earlier); their outcome is reported already.
    private static async Task ObserveAsync(params Task<int>?[] batches)
    {
        foreach (var batch in batches)
        {
            if (batch is not null)
            {
                try
                {
                    await batch.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Logged by the loop through the batch that failed first.
                }
            }
        }
    }

    /// <summary>Publishes one batch; returns how many rows it handled (marked sent, or postponed when unroutable).</summary>
    internal Task<int> RelayBatchAsync(CancellationToken cancellationToken) => RelayBatchAsync(previous: null, after: 0, sent: null, cancellationToken);

    /// <summary>
    /// Publishes one batch of the rows past <paramref name="after"/> (the last row of the batch still in flight, if any);
    /// <paramref name="sent"/> gets how many rows were claimed once they are on the wire (0 when there were none, this
    /// relay does not hold the lease, or it failed before). The rows are marked only after <paramref name="previous"/>
    /// (the batch sent before this one) committed; if it failed, this one rolls back too, so the rows of both are offered
    /// again in seq order.
    /// </summary>
    private async Task<int> RelayBatchAsync(Task<int>? previous, long after, TaskCompletionSource<Claimed>? sent, CancellationToken cancellationToken)
    {
        try
        {
            if (!await _lease.HoldAsync(cancellationToken).ConfigureAwait(false))
            {
                await AfterAsync(previous).ConfigureAwait(false);
                return 0;
            }

            // Two commands: BEGIN with both claims, then (after the broker confirmed) the marks with the COMMIT.
            var now = _timeProvider.GetUtcNow();
            return await _dataSource.InTransactionAsync(Claim(now, after), ReadClaimAsync,
                (connection, transaction, rows, marks, token) => RelayBatchAsync(rows, marks, now, previous, sent, token),
                isolationLevel: IsolationLevel.ReadCommitted, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            sent?.TrySetResult(default);
        }
    }

    private async Task<int> RelayBatchAsync(IReadOnlyList<OutboxRow> rows, SqlBatch marks, DateTimeOffset now, Task<int>? previous, TaskCompletionSource<Claimed>? sent, CancellationToken token)
    {
        if (rows.Count == 0)
        {
            sent?.TrySetResult(default);
            await AfterAsync(previous).ConfigureAwait(false);
            return 0;
        }

        var confirmed = await SendAsync(rows, token).ConfigureAwait(false);
        sent?.TrySetResult(new Claimed(rows.Count, rows.Max(row => row.Seq)));
        var routed = await confirmed.ConfigureAwait(false);
        if (AfterPublishBeforeMark is { } hook)
        {
            await hook(rows.Select(r => r.Seq).ToArray(), token).ConfigureAwait(false);
        }

        await AfterAsync(previous).ConfigureAwait(false);

        // An event no queue is bound to (yet) is kept and offered again, so a consumer that starts after its publisher
        // still gets it. A type that has reached no queue for UnroutableGiveUpAfter has no subscriber: its rows count as
        // published to nobody from then on, so events nobody wants (the catalog's stock levels, say) cost one publish each.
        var done = new List<long>(rows.Count);
        var waiting = new List<long>();
        var retryAt = now + _options.UnroutableGiveUpAfter;
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (routed[i])
            {
                if (_unroutableSince.TryRemove(row.EventType, out _))
                {
                    _subscriberless.TryRemove(row.EventType, out _);
                }

                done.Add(row.Seq);
                continue;
            }

            var since = _unroutableSince.GetOrAdd(row.EventType, now);
            var unroutableFor = now - since;
            var subscriberless = unroutableFor >= _options.UnroutableGiveUpAfter;
            if (subscriberless || row.CreatedAt < (now - _options.UnroutableGiveUpAfter).UtcDateTime)
            {
                // A row that merely aged out (its relay restarted meanwhile) says nothing yet about the type's later rows.
                if (subscriberless && _subscriberless.TryAdd(row.EventType, 0))
                {
                    LogNoSubscriber(_logger, row.EventType, _options.UnroutableGiveUpAfter);
                }

                done.Add(row.Seq);
                continue;
            }

            // Back off as the type stays unbound (2 s, then as long as it has been unbound), so a backlog of such rows
            // is offered a few times in all rather than every 2 s.
            var delay = unroutableFor > _options.UnroutableRetryDelay ? unroutableFor : _options.UnroutableRetryDelay;
            var at = now + delay;
            retryAt = at < retryAt ? at : retryAt;
            waiting.Add(row.Seq);
        }

        // Sent with the COMMIT, in one command.
        Update(marks, "UPDATE outbox SET sent_at = ", now.UtcDateTime, done);
        if (waiting.Count > 0)
        {
            LogUnroutable(_logger, waiting.Count, retryAt - now);
            Update(marks, "UPDATE outbox SET next_attempt_at = ", retryAt.UtcDateTime, waiting);
        }

        return rows.Count;
    }

    private static void Update(SqlBatch batch, string set, DateTime value, List<long> seqs)
    {
        if (seqs.Count == 0)
        {
            return;
        }

        var text = new StringBuilder(set.Length + 32 + (seqs.Count * 8)).Append(set).Append(batch.Value(value)).Append(" WHERE seq IN (");
        for (var i = 0; i < seqs.Count; i++)
        {
            text.Append(i == 0 ? "" : ", ").Append(batch.Value(seqs[i]));
        }

        batch.Statement(text.Append(')').ToString());
    }

    // Both claims in the command that begins the transaction: the due rows (postponed ones whose time came) and the fresh
    // ones, each up to RelayBatchSize, so a batch holds up to twice that when rows are due; each is a range of ix_outbox_due.
    private SqlBatch Claim(DateTimeOffset now, long after)
    {
        var claim = new SqlBatch("outbox.claim");
        var batchSize = claim.Value(_options.RelayBatchSize);
        var from = claim.Value(after);
        return claim
            .Statement(ClaimDueText.Replace("@now", claim.Value(now.UtcDateTime), StringComparison.Ordinal).Replace("@after", from, StringComparison.Ordinal)
                .Replace("@batchSize", batchSize, StringComparison.Ordinal))
            .Statement(ClaimFreshText.Replace("@after", from, StringComparison.Ordinal).Replace("@batchSize", batchSize, StringComparison.Ordinal));
    }

    private static async Task<IReadOnlyList<OutboxRow>> ReadClaimAsync(DbDataReader reader, CancellationToken cancellationToken)
    {
        var rows = new List<OutboxRow>();
        do
        {
            var parse = reader.GetRowParser<OutboxRow>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add(parse(reader));
            }
        }
        while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));

        return rows;
    }

    private static async Task AfterAsync(Task<int>? previous)
    {
        if (previous is null)
        {
            return;
        }

        try
        {
            await previous.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // Not the earlier failure itself (with it as inner exception): a transient one would make the data source
            // retry this batch, and it would fail again on the same task.
            throw new InvalidOperationException($"The batch sent before this one failed ({exception.GetType().Name}: {exception.Message}); this one is offered again after it.");
        }
    }

    /// <summary>Sends the rows; completes once they are on the wire, with the task of their confirms (per row: whether a queue took it).</summary>
    private async Task<Task<bool[]>> SendAsync(IReadOnlyList<OutboxRow> rows, CancellationToken cancellationToken)
    {
        var exchange = _publisher.Exchange;
        // Consecutive rows of one type go as one message (EventBundle), so the broker does its per-message work once for
        // them; firstRows[m] is the first row of message m.
        var messages = new List<OutgoingMessage>();
        var firstRows = new List<int>();
        var spans = new List<Activity>();
        for (var start = 0; start < rows.Count;)
        {
            var end = start + 1;
            var bytes = rows[start].Body.Length;
            while (end < rows.Count && end - start < _options.MaxEventsPerMessage && rows[end].EventType == rows[start].EventType
                && (bytes += rows[end].Body.Length) <= MaxBundleChars)
            {
                end++;
            }

            firstRows.Add(start);
            messages.Add(Message(rows, start, end, exchange, spans));
            start = end;
        }

        // Sent in seq order on one channel, so the broker receives them in that order; confirmed as a batch.
        Task<bool[]> confirmed;
        try
        {
            confirmed = await _publisher.SendAsync(messages, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var span in spans)
            {
                span.Dispose();
            }
        }

        _telemetry.Published.Add(rows.Count, new KeyValuePair<string, object?>("messaging.destination.name", exchange));
        return CountedAsync(confirmed, firstRows, rows.Count, exchange);
    }

    // Per row: whether the message that carried it reached a queue.
    private async Task<bool[]> CountedAsync(Task<bool[]> confirmed, List<int> firstRows, int rowCount, string exchange)
    {
        var routedMessages = await confirmed.ConfigureAwait(false);
        var routed = new bool[rowCount];
        for (var m = 0; m < firstRows.Count; m++)
        {
            var end = m + 1 < firstRows.Count ? firstRows[m + 1] : rowCount;
            Array.Fill(routed, routedMessages[m], firstRows[m], end - firstRows[m]);
        }

        var destination = new KeyValuePair<string, object?>("messaging.destination.name", exchange);
        _telemetry.Confirmed.Add(routed.Length, destination);
        var unroutable = routed.Count(r => !r);
        if (unroutable > 0)
        {
            _telemetry.Unroutable.Add(unroutable, destination);
        }

        return routed;
    }

    /// <summary>
    /// The message for rows [<paramref name="start"/>, <paramref name="end"/>), all of one type: the envelope itself for
    /// one row, an <see cref="EventBundle"/> for several. Each row gets its publish span (added to <paramref name="spans"/>,
    /// ended once the message is handed over), whose id the consumer continues; the first row's is the message's, which
    /// the publisher makes current around the publish only.
    /// </summary>
    private static OutgoingMessage Message(IReadOnlyList<OutboxRow> rows, int start, int end, string exchange, List<Activity> spans)
    {
        var first = rows[start];
        Activity? firstSpan = null;
        var entries = end - start > 1 ? new EventBundle.Entry[end - start] : null;
        for (var i = start; i < end; i++)
        {
            var row = rows[i];
            ActivityContext.TryParse(row.TraceParent, row.TraceState, out var parent);
            var outer = Activity.Current;
            var activity = MessagingTelemetry.Source.StartActivity($"{row.EventType} publish", ActivityKind.Producer, parent);
            Activity.Current = outer;
            activity?.SetTag("messaging.system", "rabbitmq");
            activity?.SetTag("messaging.operation.type", "send");
            activity?.SetTag("messaging.destination.name", exchange);
            activity?.SetTag("messaging.message.id", row.EventId);
            if (activity is not null)
            {
                spans.Add(activity);
            }

            firstSpan = i == start ? activity : firstSpan;
            if (entries is not null)
            {
                var (traceParent, traceState) = MessageHeaders.TraceContext(activity, row.TraceParent, row.TraceState);
                entries[i - start] = new EventBundle.Entry(Encoding.UTF8.GetBytes(row.Body), traceParent, traceState);
            }
        }

        var headers = new Dictionary<string, object?>(2, StringComparer.Ordinal);
        MessageHeaders.Inject(headers, firstSpan, first.TraceParent, first.TraceState);
        var properties = new BasicProperties
        {
            MessageId = first.EventId,
            Type = first.EventType,
            ContentType = entries is null ? "application/json" : EventBundle.ContentType,
            DeliveryMode = DeliveryModes.Persistent,
            Timestamp = new AmqpTimestamp(new DateTimeOffset(DateTime.SpecifyKind(first.CreatedAt, DateTimeKind.Utc)).ToUnixTimeSeconds()),
            Headers = headers,
        };
        var body = entries is null ? Encoding.UTF8.GetBytes(first.Body) : EventBundle.Write(entries);
        return new OutgoingMessage(first.EventType, properties, body, firstSpan);
    }

    private async Task WaitForWorkAsync(CancellationToken cancellationToken)
    {
        if (!await _signal.WaitAsync(_options.RelayPollInterval, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        if (Throttle is not null)
        {
            await Throttle.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        // Signalled before the writer committed: look again a few times shortly after, then fall back to polling.
        foreach (var delay in QuickRepolls)
        {
            await Task.Delay(delay, _timeProvider, cancellationToken).ConfigureAwait(false);
            if (await RelayBatchAsync(cancellationToken).ConfigureAwait(false) > 0)
            {
                return;
            }
        }
    }

    private async Task HousekeepAsync(CancellationToken cancellationToken)
    {
        var now = _timeProvider.GetUtcNow();
        if (now >= _nextBacklogSample)
        {
            _nextBacklogSample = now + TimeSpan.FromSeconds(1);
            var backlog = await ReadBacklogAsync(_dataSource, cancellationToken).ConfigureAwait(false);
            _telemetry.RecordBacklog(backlog.Pending, backlog.OldestAge(now));
        }

        if (now >= _nextCleanup)
        {
            _nextCleanup = now + _options.CleanupInterval;
            var before = (now - _options.Retention).UtcDateTime;
            var deleted = 0;
            int batch;
            do
            {
                batch = await _dataSource.WithConnectionAsync(
                    (connection, token) => connection.ExecuteAsync(DeleteSent, new { before }, cancellationToken: token), cancellationToken).ConfigureAwait(false);
                deleted += batch;
            }
            while (batch == 1000);

            if (deleted > 0)
            {
                LogCleanedUp(_logger, deleted);
            }
        }
    }

    internal static async Task<OutboxBacklog> ReadBacklogAsync(MySqlDataSource dataSource, CancellationToken cancellationToken) =>
        await dataSource.WithConnectionAsync(
            (connection, token) => connection.QuerySingleOrDefaultAsync<OutboxBacklog>(Backlog, cancellationToken: token), cancellationToken).ConfigureAwait(false)
        ?? new OutboxBacklog(0, null);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await _publisher.DisposeAsync().ConfigureAwait(false);
        await _lease.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>A batch on the wire: how many rows it claimed, and the last of them (where the next claim starts).</summary>
    private readonly record struct Claimed(int Count, long LastSeq);

    internal sealed record OutboxRow(long Seq, string EventId, string EventType, string Body, string? TraceParent, string? TraceState, DateTime CreatedAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay could not publish; rows stay pending, retrying in {Backoff}")]
    private static partial void LogRelayFailed(ILogger logger, Exception exception, TimeSpan backoff);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} outbox event(s) reached no queue (no consumer has bound their type yet); offering them again in {Delay}")]
    private static partial void LogUnroutable(ILogger logger, int count, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Events of type {EventType} have reached no queue for {Duration}: nobody subscribes to them, so they are marked sent to nobody until one is routed again")]
    private static partial void LogNoSubscriber(ILogger logger, string eventType, TimeSpan duration);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} published outbox rows past retention")]
    private static partial void LogCleanedUp(ILogger logger, int count);
}

/// <summary>
/// TEST ONLY, never registered by the library: when a process registers one, its relay calls it after the broker confirmed
/// a batch and before the batch is marked sent, while the rows are still locked. The relay-crash test uses it to hold a
/// relay process there and kill it.
/// </summary>
internal sealed record OutboxRelayTestPause(Func<IReadOnlyList<long>, CancellationToken, Task> AfterPublishBeforeMark);

internal sealed record OutboxBacklog(long Pending, DateTime? Oldest)
{
    public TimeSpan OldestAge(DateTimeOffset now) =>
        Oldest is { } oldest ? TimeSpan.FromTicks(Math.Max(0, (now.UtcDateTime - DateTime.SpecifyKind(oldest, DateTimeKind.Utc)).Ticks)) : TimeSpan.Zero;
}
