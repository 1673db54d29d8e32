using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Bazaar.Order.Api.Placement;

/// <summary>Where the placement pace is shared, bound from <c>Orders:Pace</c> (order-api and the worker must agree).</summary>
public sealed class PlacementPaceOptions
{
    public const string SectionName = "Orders:Pace";

    /// <summary>Redis keys <c>{KeyPrefix}{unix second}</c> count the orders placed in that second by every replica.</summary>
    [Required]
    public string KeyPrefix { get; set; } = "bazaar:orders:placed:";

    /// <summary>How often a replica adds its count to Redis (one INCRBY, whatever the rate).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:10")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(50);
}

/// <summary>
/// How many orders the shop is placing, for background work that should yield during a peak (the worker's saga,
/// <c>Saga:Yield</c>). Each replica counts its new orders in memory and adds the count to a Redis counter per wall-clock
/// second every <see cref="PlacementPaceOptions.FlushInterval"/>, fire and forget: a request never waits for it, and a
/// lost count only means a reader does not see that moment as a peak.
/// </summary>
public sealed partial class PlacementPace(IServiceProvider services, IOptions<PlacementPaceOptions> options, TimeProvider time, ILogger<PlacementPace> logger)
    : BackgroundService
{
    // Counters outlive the two seconds a reader looks at only long enough to be read.
    private static readonly TimeSpan KeyLifetime = TimeSpan.FromSeconds(10);

    private readonly Lazy<IConnectionMultiplexer?> _redis = new(services.GetService<IConnectionMultiplexer>);
    private long _unflushed;

    // This replica's own counts per wall-clock second, kept by the flush (one thread at a time).
    private long _second;
    private long _placedThisSecond;
    private long _placedLastSecond;
    private long _recentLocal;

    /// <summary>One new order (not a replay of an earlier one).</summary>
    public void Placed() => Interlocked.Increment(ref _unflushed);

    /// <summary>
    /// Orders this replica placed in the current and the previous wall-clock second together, as of its last flush: the
    /// same measure as <see cref="ReadRecentAsync"/>, without a read from Redis.
    /// </summary>
    public long RecentLocal => Volatile.Read(ref _recentLocal);

    /// <summary>Orders placed by every replica in the current and the previous wall-clock second together.</summary>
    public static async Task<long> ReadRecentAsync(IDatabase redis, string keyPrefix, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(redis);
        RedisValue[] counts = await redis.StringGetAsync([KeyOf(keyPrefix, now), KeyOf(keyPrefix, now.AddSeconds(-1))]).ConfigureAwait(false);
        return counts.Sum(count => count.HasValue ? (long)count : 0);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.FlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                Flush();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Adds what was counted since the last flush to this second's counter.</summary>
    internal void Flush()
    {
        long count = Interlocked.Exchange(ref _unflushed, 0);
        DateTimeOffset now = time.GetUtcNow();
        CountLocally(now.ToUnixTimeSeconds(), count);
        if (count == 0 || _redis.Value is not { } redis)
        {
            return;
        }

        try
        {
            IDatabase database = redis.GetDatabase();
            RedisKey key = KeyOf(options.Value.KeyPrefix, now);
            database.StringIncrement(key, count, CommandFlags.FireAndForget);
            database.KeyExpire(key, KeyLifetime, CommandFlags.FireAndForget);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException or ObjectDisposedException)
        {
            LogFlushFailed(logger, exception);
        }
    }

    private void CountLocally(long second, long count)
    {
        if (second != _second)
        {
            _placedLastSecond = second == _second + 1 ? _placedThisSecond : 0;
            _placedThisSecond = 0;
            _second = second;
        }

        _placedThisSecond += count;
        Volatile.Write(ref _recentLocal, _placedThisSecond + _placedLastSecond);
    }

    private static RedisKey KeyOf(string keyPrefix, DateTimeOffset at) =>
        keyPrefix + at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Adding to the placement pace on Redis failed; readers miss this moment")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception);
}
