using System.Data.Common;

namespace Bazaar.Messaging;

/// <summary>
/// Handles one event type. Do every database write through <see cref="EventContext.Connection"/> and
/// <see cref="EventContext.Transaction"/>: the inbox row that makes redelivery a no-op commits in that same transaction,
/// and the message is acknowledged only after it commits. Throwing sends the message down the retry path.
/// </summary>
public interface IIntegrationEventHandler<in TEvent>
    where TEvent : IIntegrationEvent
{
    Task HandleAsync(TEvent @event, EventContext context, CancellationToken cancellationToken);
}

/// <summary>What a handler gets besides the event: the envelope, and the transaction to write in.</summary>
public sealed record EventContext(EventEnvelope Envelope, DbConnection Connection, DbTransaction Transaction, int Attempt);
