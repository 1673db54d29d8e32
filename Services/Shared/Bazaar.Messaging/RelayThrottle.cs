namespace Bazaar.Messaging;

/// <summary>
/// Lets a service hold its outbox relay back for a while (during a placement peak, say, while the consumers of its events
/// yield anyway). The relay asks before it claims rows with no batch in flight, and claims nothing until the returned task
/// completes; the rows wait in the outbox, committed, and go out later in full batches. Register one as a singleton
/// <see cref="IRelayThrottle"/>; without one the relay never waits.
/// </summary>
public interface IRelayThrottle
{
    ValueTask WaitAsync(CancellationToken cancellationToken);
}
