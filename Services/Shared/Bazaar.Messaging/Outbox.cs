using System.Data.Common;
using System.Diagnostics;
using System.Text;
using Bazaar.Data;

namespace Bazaar.Messaging;

/// <summary>Records events in the caller's transaction; the relay publishes them after the transaction commits.</summary>
public interface IOutbox
{
    /// <summary>Adds <paramref name="event"/> to the outbox inside <paramref name="transaction"/>; returns the envelope (its id is the event id).</summary>
    Task<EventEnvelope> AddAsync<TEvent>(DbTransaction transaction, TEvent @event, string? correlationId = null, CancellationToken cancellationToken = default)
        where TEvent : IIntegrationEvent;

    /// <summary>Adds a ready-made envelope inside <paramref name="transaction"/>.</summary>
    Task AddAsync(DbTransaction transaction, EventEnvelope envelope, CancellationToken cancellationToken = default);

    /// <summary>Adds many envelopes inside <paramref name="transaction"/> with one multi-row insert, each with its own trace.</summary>
    Task AddRangeAsync(DbTransaction transaction, IReadOnlyCollection<OutboxEntry> entries, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds the insert of <paramref name="entries"/> to <paramref name="batch"/>, for a writer that sends all of its
    /// statements as one command; the rows exist once the batch has run, and are published once its transaction commits.
    /// </summary>
    void Append(SqlBatch batch, IReadOnlyCollection<OutboxEntry> entries);
}

/// <summary>
/// An event for the outbox with the trace it belongs to. Group writers (<see cref="TransactionBatcher{TItem,TResult}"/>)
/// write rows later and elsewhere than the request that made them, so the request's trace is captured here, when the
/// entry is made, and each published event continues the trace of ITS request rather than the writer's.
/// </summary>
public sealed record OutboxEntry(EventEnvelope Envelope, string? TraceParent, string? TraceState)
{
    /// <summary>The envelope with the trace of the current activity (the caller's request).</summary>
    public static OutboxEntry Capture(EventEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        Activity? current = Activity.Current;
        return new OutboxEntry(envelope, current?.Id, current?.TraceStateString);
    }

    /// <summary>A new envelope for <paramref name="event"/> with the trace of the current activity.</summary>
    public static OutboxEntry Capture<TEvent>(TEvent @event, string? correlationId = null, TimeProvider? timeProvider = null)
        where TEvent : IIntegrationEvent =>
        Capture(EventEnvelope.Create(@event, correlationId, timeProvider));
}

internal sealed class Outbox(OutboxSignal signal, TimeProvider timeProvider) : IOutbox
{
    public async Task<EventEnvelope> AddAsync<TEvent>(DbTransaction transaction, TEvent @event, string? correlationId = null, CancellationToken cancellationToken = default)
        where TEvent : IIntegrationEvent
    {
        var envelope = EventEnvelope.Create(@event, correlationId, timeProvider);
        await AddAsync(transaction, envelope, cancellationToken).ConfigureAwait(false);
        return envelope;
    }

    public Task AddAsync(DbTransaction transaction, EventEnvelope envelope, CancellationToken cancellationToken = default) =>
        AddRangeAsync(transaction, [OutboxEntry.Capture(envelope)], cancellationToken);

    public async Task AddRangeAsync(DbTransaction transaction, IReadOnlyCollection<OutboxEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        var connection = transaction.Connection ?? throw new InvalidOperationException("The transaction has no connection (was it committed already?).");
        var batch = new SqlBatch("outbox.insert");
        Append(batch, entries);
        await batch.ExecuteAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
    }

    public void Append(SqlBatch batch, IReadOnlyCollection<OutboxEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            return;
        }

        var createdAt = timeProvider.GetUtcNow().UtcDateTime;
        batch.Insert("INSERT INTO outbox (event_id, event_type, body, trace_parent, trace_state, created_at) VALUES");
        foreach (var entry in entries)
        {
            var envelope = entry.Envelope;
            batch.Row(envelope.Id.ToString(), envelope.Type, Encoding.UTF8.GetString(envelope.ToUtf8Bytes()), entry.TraceParent, entry.TraceState, createdAt);
        }

        batch.End();
        // Before commit, so the relay may find nothing yet; it looks again shortly after (see OutboxRelay).
        signal.Notify();
    }
}

/// <summary>Wakes the relay of this process when a row was written here, so it need not wait for its next poll.</summary>
internal sealed class OutboxSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Notify()
    {
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another writer signalled first: one wake-up is enough.
            }
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);
}
