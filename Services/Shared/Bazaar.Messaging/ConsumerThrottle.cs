namespace Bazaar.Messaging;

/// <summary>
/// Lets a service hold its consumer back for a while (the worker's saga during a placement peak, say). Each consumer
/// loop asks for a turn once it holds a delivery and before it opens a transaction, so nothing is locked while it waits;
/// the turn says how many messages that transaction may take, and is given back when the transaction has ended.
/// Messages of a handler registered alone (<c>AddConsumer(alone: true)</c>) are not held back: such handlers wait on slow
/// calls, and would hold the turn while they wait. Register one as a singleton <see cref="IConsumerThrottle"/>; without
/// one the consumer never waits.
/// </summary>
public interface IConsumerThrottle
{
    ValueTask<ConsumerTurn> WaitTurnAsync(CancellationToken cancellationToken);
}

/// <summary>Permission for one consumer transaction of at most <see cref="MaxMessages"/> messages; disposing it gives the turn back.</summary>
public readonly struct ConsumerTurn(int maxMessages, IDisposable? release) : IDisposable
{
    /// <summary>No limit and nothing to give back: what a consumer without a throttle, or outside a peak, gets.</summary>
    public static ConsumerTurn Unlimited => new(int.MaxValue, null);

    public int MaxMessages { get; } = maxMessages;

    public void Dispose() => release?.Dispose();
}
