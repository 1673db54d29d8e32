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
}

internal sealed class Outbox(OutboxSignal signal, TimeProvider timeProvider) : IOutbox
{
    internal static readonly SqlStatement Insert = new("outbox.insert", """
        INSERT INTO outbox (event_id, event_type, body, trace_parent, trace_state, created_at)
        VALUES (@eventId, @eventType, @body, @traceParent, @traceState, @createdAt)
        """);

    public async Task<EventEnvelope> AddAsync<TEvent>(DbTransaction transaction, TEvent @event, string? correlationId = null, CancellationToken cancellationToken = default)
        where TEvent : IIntegrationEvent
    {
        var envelope = EventEnvelope.Create(@event, correlationId, timeProvider);
        await AddAsync(transaction, envelope, cancellationToken).ConfigureAwait(false);
        return envelope;
    }

    public async Task AddAsync(DbTransaction transaction, EventEnvelope envelope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(envelope);
        var connection = transaction.Connection ?? throw new InvalidOperationException("The transaction has no connection (was it committed already?).");
        var current = Activity.Current;
        await connection.ExecuteAsync(Insert, new
        {
            eventId = envelope.Id.ToString(),
            eventType = envelope.Type,
            body = Encoding.UTF8.GetString(envelope.ToUtf8Bytes()),
            traceParent = current?.Id,
            traceState = current?.TraceStateString,
            createdAt = timeProvider.GetUtcNow().UtcDateTime,
        }, transaction, cancellationToken).ConfigureAwait(false);

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
