using System.Data;
using System.Data.Common;
using System.Globalization;
using Bazaar.Order.Api.Streaming;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Bazaar.Order.Api.Ordering;

/// <summary>
/// Tells the status streams of every order-api replica that an order moved: "orderId:seq" on the Redis channel
/// <see cref="OrderStreamOptions.Channel"/>, published by whichever process moved the order (order-api or the worker)
/// once the transaction that moved it has ended. A hint only says "look again": a stream reads the entries themselves
/// from MySQL, the one truth, and re-reads on every heartbeat and poll as well, so a lost hint only delays a stream, and
/// a hint for a move that rolled back costs one read. That is why hints need neither the outbox nor the broker.
/// </summary>
public sealed partial class OrderStatusHints(IServiceProvider services, IOptions<OrderStreamOptions> options, ILogger<OrderStatusHints> logger)
{
    private readonly Lazy<ISubscriber?> _redis = new(() => services.GetService<IConnectionMultiplexer>()?.GetSubscriber());

    /// <summary>Raised for a hint that could not go out on Redis, so this process's own streams can still be woken.</summary>
    internal event Action<Guid>? NotPublished;

    /// <summary>
    /// Publishes the hint once <paramref name="transaction"/>'s connection closes, which is after its commit (or rollback):
    /// a hint sent before the commit would wake streams that then find nothing new and wait for their next poll.
    /// </summary>
    public void AfterCommit(DbTransaction transaction, Guid orderId, int seq)
    {
        DbConnection connection = transaction.Connection
            ?? throw new InvalidOperationException("The transaction has no connection (was it committed already?).");
        StateChangeEventHandler? onClose = null;
        onClose = (_, change) =>
        {
            if (change.CurrentState == ConnectionState.Closed)
            {
                connection.StateChange -= onClose;
                Publish(orderId, seq);
            }
        };
        connection.StateChange += onClose;
    }

    /// <summary>Publishes the hint now (fire and forget: nothing waits for Redis).</summary>
    public void Publish(Guid orderId, int seq)
    {
        if (_redis.Value is not { } redis)
        {
            NotPublished?.Invoke(orderId);
            return;
        }

        try
        {
            redis.Publish(options.Value.Channel, $"{orderId:N}:{seq.ToString(CultureInfo.InvariantCulture)}", CommandFlags.FireAndForget);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Other replicas' streams catch up on their next heartbeat or poll.
            LogPublishFailed(logger, exception);
            NotPublished?.Invoke(orderId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing an order status hint on Redis failed; streams catch up on their next heartbeat or poll")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception);
}
