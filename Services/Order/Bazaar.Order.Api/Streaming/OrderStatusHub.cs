using System.Collections.Concurrent;
using System.Threading.Channels;
using Bazaar.Messaging;
using Bazaar.Order.Api.Ordering;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Bazaar.Order.Api.Streaming;

/// <summary>Status streams, bound from <c>Orders:Stream</c>.</summary>
public sealed class OrderStreamOptions
{
    public const string SectionName = "Orders:Stream";

    /// <summary>The Redis channel on which every replica hears of every status change.</summary>
    public string Channel { get; set; } = "bazaar:orders:status";

    /// <summary>Every open stream sends a comment line this often, so proxies and clients can tell a quiet stream from a dead one.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>A stream reads the database this often even without a notification, so a lost one only delays.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// Wakes this replica's open status streams of an order when a hint for it arrives on the Redis channel (published by
/// whichever process moved the order, <see cref="OrderStatusHints"/>), or directly when a hint from this process could
/// not go out on Redis. A hint only says "look again": streams read the entries themselves from the database, so a lost,
/// repeated or early hint costs nothing but a read.
/// </summary>
internal sealed partial class OrderStatusHub(IServiceProvider services, OrderStatusHints hints, IOptions<OrderStreamOptions> options, ILogger<OrderStatusHub> logger) : IHostedService
{
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<Watcher, byte>> _watchers = new();

    public Watcher Watch(Guid orderId)
    {
        var watcher = new Watcher(this, orderId);
        _watchers.GetOrAdd(orderId, _ => new ConcurrentDictionary<Watcher, byte>()).TryAdd(watcher, 0);
        return watcher;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        hints.NotPublished += Wake;
        if (services.GetService<IConnectionMultiplexer>() is not { } redis)
        {
            return;
        }

        ISubscriber subscriber = redis.GetSubscriber();
        try
        {
            await subscriber.SubscribeAsync(RedisChannel.Literal(options.Value.Channel), (_, message) => OnMessage(message)).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // The multiplexer resubscribes when it reconnects; until then streams poll.
            LogSubscribeFailed(logger, exception);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        hints.NotPublished -= Wake;
        return Task.CompletedTask;
    }

    private void OnMessage(RedisValue message)
    {
        string text = message.ToString();
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && Guid.TryParseExact(text[..colon], "N", out Guid orderId))
        {
            Wake(orderId);
        }
    }

    private void Wake(Guid orderId)
    {
        if (_watchers.TryGetValue(orderId, out ConcurrentDictionary<Watcher, byte>? watchers))
        {
            foreach (Watcher watcher in watchers.Keys)
            {
                watcher.Signal();
            }
        }
    }

    private void Remove(Watcher watcher)
    {
        if (_watchers.TryGetValue(watcher.OrderId, out ConcurrentDictionary<Watcher, byte>? watchers))
        {
            watchers.TryRemove(watcher, out _);
            if (watchers.IsEmpty)
            {
                _watchers.TryRemove(new KeyValuePair<Guid, ConcurrentDictionary<Watcher, byte>>(watcher.OrderId, watchers));
            }
        }
    }

    /// <summary>One open stream's interest in one order.</summary>
    internal sealed class Watcher(OrderStatusHub hub, Guid orderId) : IDisposable
    {
        private readonly Channel<bool> _signals = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

        public Guid OrderId { get; } = orderId;

        public void Signal() => _signals.Writer.TryWrite(true);

        /// <summary>Completes when a change was announced since the last wait, or after <paramref name="timeout"/>.</summary>
        public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
        {
            using var timer = new CancellationTokenSource(timeout, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
            try
            {
                await _signals.Reader.ReadAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Timed out: the caller polls or sends a heartbeat.
            }
        }

        public void Dispose() => hub.Remove(this);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscribing to status changes on Redis failed; streams poll until it reconnects")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception);
}

/// <summary>
/// Passes on, as a hint, an <see cref="OrderStatusChanged"/> written by an older version (nothing writes them now: moves
/// made by <see cref="OrderLedger"/> hint directly), so such events are handled rather than dead-lettered.
/// </summary>
internal sealed class OrderStatusChangedHandler(OrderStatusHints hints) : IIntegrationEventHandler<OrderStatusChanged>
{
    public Task HandleAsync(OrderStatusChanged @event, EventContext context, CancellationToken cancellationToken)
    {
        hints.Publish(@event.OrderId, @event.Seq);
        return Task.CompletedTask;
    }
}
