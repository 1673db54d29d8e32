using System.Collections.Concurrent;
using System.Globalization;
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
/// Fans status changes out to the open status streams of every replica: the replica that consumes an
/// <see cref="OrderStatusChanged"/> publishes "orderId:seq" on a Redis channel, and each replica wakes its streams of that
/// order. The message only says "look again": streams read the entries themselves from the database, so a lost, repeated
/// or early message costs nothing but a read.
/// </summary>
internal sealed partial class OrderStatusHub(IServiceProvider services, IOptions<OrderStreamOptions> options, ILogger<OrderStatusHub> logger) : IHostedService
{
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<Watcher, byte>> _watchers = new();
    private ISubscriber? _subscriber;

    public Watcher Watch(Guid orderId)
    {
        var watcher = new Watcher(this, orderId);
        _watchers.GetOrAdd(orderId, _ => new ConcurrentDictionary<Watcher, byte>()).TryAdd(watcher, 0);
        return watcher;
    }

    public async Task PublishAsync(Guid orderId, int seq)
    {
        if (_subscriber is null)
        {
            Wake(orderId);
            return;
        }

        try
        {
            await _subscriber.PublishAsync(options.Value.Channel, $"{orderId:N}:{seq.ToString(CultureInfo.InvariantCulture)}").ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // Streams on other replicas catch up on their next poll; the ones here can be woken now.
            LogPublishFailed(logger, exception);
            Wake(orderId);
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (services.GetService<IConnectionMultiplexer>() is not { } redis)
        {
            return;
        }

        _subscriber = redis.GetSubscriber();
        try
        {
            await _subscriber.SubscribeAsync(options.Value.Channel, (_, message) => OnMessage(message)).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // The multiplexer resubscribes when it reconnects; until then streams poll.
            LogSubscribeFailed(logger, exception);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing a status change on Redis failed; other replicas' streams will catch up by polling")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscribing to status changes on Redis failed; streams poll until it reconnects")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception);
}

/// <summary>Hears every status change (one replica per event) and tells every replica's streams about it.</summary>
internal sealed class OrderStatusChangedHandler(OrderStatusHub hub) : IIntegrationEventHandler<OrderStatusChanged>
{
    public Task HandleAsync(OrderStatusChanged @event, EventContext context, CancellationToken cancellationToken) =>
        hub.PublishAsync(@event.OrderId, @event.Seq);
}
