namespace Bazaar.Messaging;

/// <summary>
/// Acknowledges a consumer channel's deliveries with as few frames as possible: one ack with <c>multiple</c> covers
/// every delivery up to a tag, but only once all of them are finished. Deliveries are registered in the order the broker
/// sent them; a finished one waits until every earlier one is finished too (acked here, or settled on its own, a nack
/// or a retry, before it was reported), then one frame acks the run. A delivery still being handled is therefore never
/// covered, and a nacked one has left the broker's unacked set before a later multiple ack is sent.
/// Sends are serialised: two multiple acks out of order would name a tag the broker no longer knows.
/// </summary>
internal sealed class DeliveryAcknowledger(Func<ulong, CancellationToken, ValueTask> ackUpTo)
{
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _send = new(1, 1);
    private readonly Queue<ulong> _outstanding = new();

    // Finished tags not yet at the head of the line: true when the broker still needs an ack for it.
    private readonly Dictionary<ulong, bool> _finished = [];

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
            lock (_lock)
            {
                foreach (var tag in deliveryTags)
                {
                    _finished[tag] = needsAck;
                }

                while (_outstanding.TryPeek(out var head) && _finished.Remove(head, out var ack))
                {
                    _outstanding.Dequeue();
                    if (ack)
                    {
                        ackTo = head;
                    }
                }
            }

            if (ackTo is { } last)
            {
                await ackUpTo(last, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _send.Release();
        }
    }
}
