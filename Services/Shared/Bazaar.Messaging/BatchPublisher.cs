using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Bazaar.Messaging;

/// <summary>
/// One message of a batch: where it goes, what it carries, and the span it is published in (if any).
/// <see cref="BasicProperties.MessageId"/> must be unique within the batch.
/// </summary>
internal readonly record struct OutgoingMessage(string RoutingKey, BasicProperties Properties, ReadOnlyMemory<byte> Body, Activity? Span = null);

/// <summary>
/// Publishes a batch of persistent, mandatory messages on a channel with publisher confirms and waits until the broker
/// has confirmed every one; says which ones no queue took (returned). The confirms are tracked here, per batch, rather
/// than by the client per message: the client's tracking gives every publish its own task, completed on its own
/// thread-pool hop, and adds a sequence-number header to each message, all for a relay that only ever needs "the whole
/// batch is confirmed".
/// The broker acks with <c>multiple</c>, often one frame for many messages; a return comes before the message's ack.
/// A nack, or the channel closing, fails the batch (the rows stay unsent and are offered again). Several batches may
/// wait for their confirms at once (the relay sends the next while the previous one is confirmed and marked); their
/// messages are sent one batch after the other, so the broker receives them in order.
/// </summary>
internal sealed class BatchPublisher(RabbitMQConnectionProvider provider, string exchange) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _lock = new();
    private readonly List<PendingBatch> _pending = [];
    private IChannel? _channel;

    public string Exchange => exchange;

    /// <summary>Publishes <paramref name="messages"/> in order and waits for every confirm; returns, per message, whether a queue took it.</summary>
    public async Task<bool[]> PublishAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken) =>
        await (await SendAsync(messages, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);

    /// <summary>
    /// Sends <paramref name="messages"/> in order; completes once they are all handed to the channel, with the task that
    /// completes when the broker has confirmed every one (per message: whether a queue took it).
    /// </summary>
    public async Task<Task<bool[]>> SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        if (messages.Count == 0)
        {
            return Task.FromResult(Array.Empty<bool>());
        }

        // One batch sent at a time: the sequence numbers of a batch must be consecutive on the channel.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var channel = await GetChannelAsync(cancellationToken).ConfigureAwait(false);
            var first = await channel.GetNextPublishSequenceNumberAsync(cancellationToken).ConfigureAwait(false);
            var batch = new PendingBatch(first, messages);
            lock (_lock)
            {
                _pending.Add(batch);
            }

            var outer = Activity.Current;
            try
            {
                foreach (var message in messages)
                {
                    // The client's own instrumentation (RabbitMQ.Client.*, which services listen to) starts its send span
                    // as a child of the current activity and writes that span into the traceparent header: the message's
                    // span must be current, or the consumer would continue a trace of the relay's loop instead of the request's.
                    Activity.Current = message.Span ?? outer;
                    using var trace = MessageHeaders.ContinueTrace(message.Properties.Headers);
                    await channel.BasicPublishAsync(exchange, message.RoutingKey, mandatory: true, message.Properties, message.Body, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception exception)
            {
                batch.Fail(exception);
            }
            finally
            {
                Activity.Current = outer;
            }

            if (!channel.IsOpen)
            {
                // Closed while publishing, maybe before the shutdown handler saw this batch: it will never be confirmed.
                batch.Fail(new InvalidOperationException("The channel closed while the batch was being published; it is offered again."));
            }

            return ConfirmedAsync(batch, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<bool[]> ConfirmedAsync(PendingBatch batch, CancellationToken cancellationToken)
    {
        try
        {
            return await batch.Confirmed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _pending.Remove(batch);
            }
        }
    }

    private void ForEachPending(Action<PendingBatch> action)
    {
        PendingBatch[] pending;
        lock (_lock)
        {
            pending = [.. _pending];
        }

        foreach (var batch in pending)
        {
            action(batch);
        }
    }

    private async ValueTask<IChannel> GetChannelAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true } open)
        {
            return open;
        }

        if (_channel is { } broken)
        {
            _channel = null;
            await DisposeChannelAsync(broken).ConfigureAwait(false);
        }

        var connection = await provider.GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: false),
            cancellationToken).ConfigureAwait(false);
        channel.BasicAcksAsync += (_, args) =>
        {
            ForEachPending(batch => batch.Confirm(args.DeliveryTag, args.Multiple));
            return Task.CompletedTask;
        };
        channel.BasicNacksAsync += (_, args) =>
        {
            ForEachPending(batch => batch.Refuse(args.DeliveryTag, args.Multiple));
            return Task.CompletedTask;
        };
        channel.BasicReturnAsync += (_, args) =>
        {
            ForEachPending(batch => batch.Return(args.BasicProperties.MessageId));
            return Task.CompletedTask;
        };
        channel.ChannelShutdownAsync += (_, args) =>
        {
            ForEachPending(batch => batch.Fail(new InvalidOperationException($"The channel closed before every message was confirmed: {args.ReplyText}")));
            return Task.CompletedTask;
        };
        await MessagingTopology.DeclareExchangeAsync(channel, exchange, cancellationToken).ConfigureAwait(false);
        _channel = channel;
        return channel;
    }

    public async ValueTask DisposeAsync()
    {
        if (_channel is { } channel)
        {
            _channel = null;
            await DisposeChannelAsync(channel).ConfigureAwait(false);
        }
    }

    private static async Task DisposeChannelAsync(IChannel channel)
    {
        try
        {
            await channel.CloseAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Closing a channel whose connection is gone fails; disposing still releases it.
        }

        await channel.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The confirms a batch still waits for; sequence numbers <c>first .. first + count - 1</c>.</summary>
    private sealed class PendingBatch
    {
        private readonly Lock _lock = new();
        private readonly ulong _first;
        private readonly bool[] _confirmed;
        private readonly bool[] _routed;
        private readonly Dictionary<string, int> _indexById;
        private int _remaining;

        public PendingBatch(ulong first, IReadOnlyList<OutgoingMessage> messages)
        {
            _first = first;
            _confirmed = new bool[messages.Count];
            _routed = new bool[messages.Count];
            Array.Fill(_routed, true);
            _remaining = messages.Count;
            _indexById = new Dictionary<string, int>(messages.Count, StringComparer.Ordinal);
            for (var i = 0; i < messages.Count; i++)
            {
                _indexById[messages[i].Properties.MessageId ?? throw new ArgumentException("Every message needs a MessageId.", nameof(messages))] = i;
            }
        }

        private readonly TaskCompletionSource<bool[]> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<bool[]> Confirmed => _done.Task;

        public void Confirm(ulong deliveryTag, bool multiple)
        {
            lock (_lock)
            {
                // Tags below the batch belong to an earlier batch that gave up; a multiple ack may reach past the batch's end only in theory.
                if (deliveryTag < _first || (!multiple && deliveryTag - _first >= (ulong)_confirmed.Length))
                {
                    return;
                }

                var last = Math.Min(deliveryTag - _first, (ulong)_confirmed.Length - 1);

                for (var index = multiple ? 0 : last; index <= last; index++)
                {
                    if (!_confirmed[index])
                    {
                        _confirmed[index] = true;
                        _remaining--;
                    }
                }

                if (_remaining == 0)
                {
                    _done.TrySetResult(_routed);
                }
            }
        }

        public void Refuse(ulong deliveryTag, bool multiple)
        {
            // This batch's messages are among those refused: the tag is in the batch, or a multiple nack reaches into it.
            if (deliveryTag >= _first && (multiple || deliveryTag - _first < (ulong)_confirmed.Length))
            {
                Fail(new InvalidOperationException($"The broker refused message {deliveryTag}{(multiple ? " and earlier ones" : "")} (nack); the batch is offered again."));
            }
        }

        // basic.return precedes the message's basic.ack, so the batch is never complete before its returns are in.
        public void Return(string? messageId)
        {
            lock (_lock)
            {
                if (messageId is not null && _indexById.TryGetValue(messageId, out var index))
                {
                    _routed[index] = false;
                }
            }
        }

        public void Fail(Exception exception) => _done.TrySetException(exception);
    }
}
