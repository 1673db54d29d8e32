namespace Bazaar.Messaging;

/// <summary>
/// Acknowledges a consumer channel's deliveries with as few frames as possible: one ack with <c>multiple</c> covers
/// every delivery up to a tag, but only once all of them are finished. Deliveries are registered in the order the broker
/// sent them; a finished one waits until every earlier one is finished too (acked here, or settled on its own, a nack
/// or a retry, before it was reported), then one frame acks the run. A delivery still being handled is therefore never
/// covered, and a nacked one has left the broker's unacked set before a later multiple ack is sent.
/// Sends are serialised: two multiple acks out of order would name a tag the broker no longer knows.
/// A delivery that takes long (a handler waiting on a slow outside call) must not stop the others: the broker sends no
/// more than the prefetch count of unacknowledged deliveries, so once <paramref name="holdLimit"/> finished ones wait
/// behind an unfinished one, they are acked one by one (<c>multiple</c> false) instead, and the line moves past them later
/// without naming them again.
/// </summary>
/// <param name="ack">Sends one ack: the tag, and whether it covers every earlier unacknowledged delivery too.</param>
/// <param name="holdLimit">Most finished deliveries held back for a multiple ack; half the prefetch count leaves the other half for deliveries in flight.</param>
internal sealed class DeliveryAcknowledger(Func<ulong, bool, CancellationToken, ValueTask> ack, int holdLimit)
{
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _send = new(1, 1);
    private readonly Queue<ulong> _outstanding = new();

    // Finished tags not yet at the head of the line: true when the broker still needs an ack for it.
    private readonly Dictionary<ulong, bool> _finished = [];

    // How many of _finished still need an ack.
    private int _held;

    /// <summary>Deliveries registered and not yet covered by an ack or settled (for tests).</summary>
    public int Outstanding
    {
        get
        {
            lock (_lock)
            {
                return _outstanding.Count;
            }
        }
    }

    /// <summary>Called for every delivery, in the order received, before anything else may settle it.</summary>
    public void Register(ulong deliveryTag)
    {
        lock (_lock)
        {
            _outstanding.Enqueue(deliveryTag);
        }
    }

    /// <summary>The deliveries are done (their transaction committed): ack them, together with any finished run before them.</summary>
    public Task AckAsync(IReadOnlyList<ulong> deliveryTags, CancellationToken cancellationToken) => FinishAsync(deliveryTags, needsAck: true, cancellationToken);

    /// <inheritdoc cref="AckAsync(IReadOnlyList{ulong}, CancellationToken)"/>
    public Task AckAsync(ulong deliveryTag, CancellationToken cancellationToken) => FinishAsync([deliveryTag], needsAck: true, cancellationToken);

    /// <summary>The delivery was settled on its own (nacked, say), and that frame was sent already: it no longer holds the line.</summary>
    public Task SettledAsync(ulong deliveryTag, CancellationToken cancellationToken) => FinishAsync([deliveryTag], needsAck: false, cancellationToken);

    /// <summary>
    /// Nacks (requeue) those of <paramref name="deliveryTags"/> that were neither acked nor settled yet, then lets them go:
    /// for a failure that left deliveries unsettled, which would otherwise hold back every later ack for good.
    /// </summary>
    public async Task ReturnUnfinishedAsync(IReadOnlyList<ulong> deliveryTags, Func<ulong, ValueTask> nack, CancellationToken cancellationToken)
    {
        ulong[] unfinished;
        lock (_lock)
        {
            unfinished = deliveryTags.Where(tag => _outstanding.Contains(tag) && !_finished.ContainsKey(tag)).ToArray();
        }

        foreach (var tag in unfinished)
        {
            await nack(tag).ConfigureAwait(false);
        }

        await FinishAsync(unfinished, needsAck: false, cancellationToken).ConfigureAwait(false);
    }

    private async Task FinishAsync(IReadOnlyList<ulong> deliveryTags, bool needsAck, CancellationToken cancellationToken)
    {
        await _send.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ulong? ackTo = null;
            ulong[] ackAlone = [];
            lock (_lock)
            {
                foreach (var tag in deliveryTags)
                {
                    _finished[tag] = needsAck;
                    _held += needsAck ? 1 : 0;
                }

                while (_outstanding.TryPeek(out var head) && _finished.Remove(head, out var needed))
                {
                    _outstanding.Dequeue();
                    if (needed)
                    {
                        ackTo = head;
                        _held--;
                    }
                }

                if (_held >= holdLimit)
                {
                    // Held behind a delivery still being handled: ack each now, and let the line pass them unnamed.
                    ackAlone = _finished.Where(pair => pair.Value).Select(pair => pair.Key).ToArray();
                    foreach (var tag in ackAlone)
                    {
                        _finished[tag] = false;
                    }

                    _held = 0;
                }
            }

            if (ackTo is { } last)
            {
                await ack(last, true, cancellationToken).ConfigureAwait(false);
            }

            foreach (var tag in ackAlone)
            {
                await ack(tag, false, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _send.Release();
        }
    }
}
