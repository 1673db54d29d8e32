using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Bazaar.Caching;

/// <summary>
/// Keeps this replica subscribed to the invalidation channel (retrying while Redis is down) and, when Redis
/// comes back, has the cache forget L1 and replay the invalidations it could not send.
/// </summary>
internal sealed partial class CacheInvalidationListener(TwoLevelCache cache, TimeProvider time, ILogger<CacheInvalidationListener> logger)
    : BackgroundService
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        IConnectionMultiplexer? redis = cache.L2.Multiplexer;
        if (!cache.Enabled || redis is null)
        {
            return;
        }

        int restored = 0;
        redis.ConnectionRestored += (_, _) => Interlocked.Exchange(ref restored, 1);

        bool subscribed = false;
        bool wasConnected = redis.IsConnected;
        using var timer = new PeriodicTimer(RetryInterval, time);
        do
        {
            try
            {
                if (!subscribed && redis.IsConnected)
                {
                    await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(cache.Options.InvalidationChannel),
                        (_, message) => cache.OnInvalidationMessage((string)message!)).ConfigureAwait(false);
                    subscribed = true;
                    LogSubscribed(logger, cache.Options.InvalidationChannel);
                }

                bool connected = redis.IsConnected;
                bool cameBack = connected && (!wasConnected || Interlocked.Exchange(ref restored, 0) == 1);
                wasConnected = connected;
                if (connected && (cameBack || cache.HasPendingInvalidations))
                {
                    await cache.ResynchroniseAsync().ConfigureAwait(false);
                }
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                LogSubscribeFailed(logger, exception.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Listening for cache invalidations on {Channel}")]
    private static partial void LogSubscribed(ILogger logger, string channel);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Cache invalidation channel not reachable yet: {Reason}")]
    private static partial void LogSubscribeFailed(ILogger logger, string reason);
}
