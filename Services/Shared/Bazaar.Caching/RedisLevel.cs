using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Bazaar.Caching;

/// <summary>
/// The L2 side: every Redis call goes through here so that a slow or absent Redis costs a request
/// at most one bounded wait, after which Redis is skipped for a short while (the cache degrades to L1 + source).
/// </summary>
internal sealed partial class RedisLevel
{
    private readonly IConnectionMultiplexer? _redis;
    private readonly TwoLevelCacheOptions _options;
    private readonly TimeProvider _time;
    private readonly CacheMetrics _metrics;
    private readonly ILogger _logger;
    private long _skipUntilTimestamp;

    public RedisLevel(IConnectionMultiplexer? redis, TwoLevelCacheOptions options, TimeProvider time, CacheMetrics metrics, ILogger logger)
    {
        _redis = redis;
        _options = options;
        _time = time;
        _metrics = metrics;
        _logger = logger;
    }

    public IConnectionMultiplexer? Multiplexer => _redis;

    public bool IsConfigured => _redis is not null;

    public bool IsAvailable =>
        _redis is { IsConnected: true } && _time.GetTimestamp() >= Interlocked.Read(ref _skipUntilTimestamp);

    public async Task<RedisAttempt<T>> TryAsync<T>(string operation, Func<IDatabase, Task<T>> call)
    {
        if (!IsAvailable)
        {
            return RedisAttempt<T>.Failed;
        }

        try
        {
            T value = await call(_redis!.GetDatabase()).WaitAsync(_options.RedisTimeout, _time).ConfigureAwait(false);
            return new RedisAttempt<T>(true, value);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException or ObjectDisposedException)
        {
            MarkFailed(operation, exception);
            return RedisAttempt<T>.Failed;
        }
    }

    private void MarkFailed(string operation, Exception exception)
    {
        _metrics.RedisError();
        long retryAt = _time.GetTimestamp() + (long)(_options.RedisRetryAfter.TotalSeconds * _time.TimestampFrequency);
        Interlocked.Exchange(ref _skipUntilTimestamp, retryAt);
        LogRedisFailed(_logger, operation, exception.GetType().Name, exception.Message);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning,
        Message = "Redis {Operation} failed ({ExceptionType}: {Reason}); serving from L1 and the source until Redis answers again")]
    private static partial void LogRedisFailed(ILogger logger, string operation, string exceptionType, string reason);
}

internal readonly record struct RedisAttempt<T>(bool Succeeded, T? Value)
{
    public static RedisAttempt<T> Failed => new(false, default);
}
