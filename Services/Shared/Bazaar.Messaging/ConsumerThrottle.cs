namespace Bazaar.Messaging;

/// <summary>
/// Lets a service hold its consumer back for a while (the worker's saga during a placement peak, say). Each consumer
/// loop asks for a turn once it holds a delivery and before it opens a transaction, so nothing is locked while it waits;
/// the turn says how many messages that transaction may take, and is given back when the transaction has ended, with
/// the number it took. Messages of a handler registered alone (<c>AddConsumer(alone: true)</c>) are not held back: such
/// handlers wait on slow calls, and would hold the turn while they wait. Register one as a singleton
/// <see cref="IConsumerThrottle"/>; without one the consumer never waits.
/// </summary>
public interface IConsumerThrottle
{
    ValueTask<ConsumerTurn> WaitTurnAsync(CancellationToken cancellationToken);
}

/// <summary>Told when a turn of its throttle ends.</summary>
public interface IConsumerTurnOwner
{
    /// <param name="maxMessages">The turn's limit.</param>
    /// <param name="messages">The messages its transaction took: as many as the limit when more were waiting.</param>
    void TurnEnded(int maxMessages, int messages);
}

/// <summary>Permission for one consumer transaction of at most <see cref="MaxMessages"/> messages; <see cref="End"/> gives it back.</summary>
public readonly struct ConsumerTurn(int maxMessages, IConsumerTurnOwner? owner)
{
    /// <summary>No limit and nothing to give back: what a consumer without a throttle gets.</summary>
    public static ConsumerTurn Unlimited => new(int.MaxValue, null);

    public int MaxMessages { get; } = maxMessages;

    /// <summary>The transaction has ended, having taken <paramref name="messages"/> messages.</summary>
    public void End(int messages) => owner?.TurnEnded(MaxMessages, messages);
}
