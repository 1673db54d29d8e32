using System.Data.Common;
using Bazaar.Data;

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
/// <param name="Writes">
/// Statements to send after every handler of this transaction has run, as ONE command, before the commit (with the same
/// all-or-nothing outcome as writes through <paramref name="Connection"/>). For writes whose results the handler does
/// not need: a batch of messages then costs one round trip for all their writes instead of one per write. A handler
/// does not see its own appended writes through <paramref name="Connection"/>; write through the connection when it must.
/// </param>
public sealed record EventContext(EventEnvelope Envelope, DbConnection Connection, DbTransaction Transaction, int Attempt, SqlBatch Writes);
