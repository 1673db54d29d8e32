using System.Data;
using System.Data.Common;
using System.Globalization;
using Bazaar.Data;
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
    /// Publishes the hint once <paramref name="transaction"/> has ended (commit or rollback): a hint sent before the commit
    /// would wake streams that then find nothing new and wait for their next poll. The end is reported by the data source's
    /// transaction runner (<see cref="TransactionEnd"/>), whose connection may stay open for the next transaction (the
    /// worker's consumer holds its connections); a transaction begun elsewhere ends, at the latest, when its connection
    /// closes. Whichever comes first publishes, once.
    /// </summary>
    public void AfterCommit(DbTransaction transaction, Guid orderId, int seq)
    {
        DbConnection connection = transaction.Connection
            ?? throw new InvalidOperationException("The transaction has no connection (was it committed already?).");
        int published = 0;
        StateChangeEventHandler? onClose = null;
        void PublishOnce()
        {
            connection.StateChange -= onClose;
            if (Interlocked.Exchange(ref published, 1) == 0)
            {
                Publish(orderId, seq);
            }
        }

        onClose = (_, change) =>
        {
            if (change.CurrentState == ConnectionState.Closed)
            {
                PublishOnce();
            }
        };
        connection.StateChange += onClose;
        TransactionEnd.Register(transaction, PublishOnce);
    }

    /// <summary>Publishes the hint now (fire and forget: nothing waits for Redis).</summary>
    public void Publish(Guid orderId, int seq)
    {
        try
        {
            // Resolved here, inside the try: a connection that is only closed by its finalizer, after the host has
            // stopped, closes on the finalizer thread, where an exception from a disposed container ends the process.
            if (_redis.Value is not { } redis)
            {
                NotPublished?.Invoke(orderId);
                return;
            }

            redis.Publish(RedisChannel.Literal(options.Value.Channel), $"{orderId:N}:{seq.ToString(CultureInfo.InvariantCulture)}", CommandFlags.FireAndForget);
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
