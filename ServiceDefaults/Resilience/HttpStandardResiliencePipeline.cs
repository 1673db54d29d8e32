using System.Threading.RateLimiting;
using Polly;

namespace Bazaar.ServiceDefaults.Resilience;

/// <summary>
/// Builds the pipeline of AddStandardResilienceHandler, outermost first:
/// concurrency limiter, total timeout, retry, circuit breaker, attempt timeout.
/// </summary>
public static class HttpStandardResiliencePipeline
{
    public static ResiliencePipeline<HttpResponseMessage> Create(HttpStandardResilienceOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);

        ConcurrencyLimiterOptions limits = options.RateLimiter.DefaultRateLimiterOptions;
        var limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = limits.PermitLimit,
            QueueLimit = limits.QueueLimit,
            QueueProcessingOrder = limits.QueueProcessingOrder,
        });

        HttpRetryStrategyOptions retry = options.Retry;
        if (retry.ShouldRetryAfterHeader && retry.DelayGenerator is null)
        {
            retry = CopyWithRetryAfter(retry, timeProvider);
        }

        return new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = timeProvider }
            .AddStrategy(_ => new ConcurrencyLimiterStrategy(limiter), options.RateLimiter)
            .AddTimeout(options.TotalRequestTimeout)
            .AddRetry(retry)
            .AddCircuitBreaker(options.CircuitBreaker)
            .AddTimeout(options.AttemptTimeout)
            .Build();
    }

    // The bound options object is shared, so the Retry-After delay generator goes on a copy.
    private static HttpRetryStrategyOptions CopyWithRetryAfter(HttpRetryStrategyOptions source, TimeProvider timeProvider) => new()
    {
        Name = source.Name,
        ShouldHandle = source.ShouldHandle,
        BackoffType = source.BackoffType,
        UseJitter = source.UseJitter,
        MaxRetryAttempts = source.MaxRetryAttempts,
        Delay = source.Delay,
        MaxDelay = source.MaxDelay,
        OnRetry = source.OnRetry,
        Randomizer = source.Randomizer,
        ShouldRetryAfterHeader = true,
        DelayGenerator = args => new ValueTask<TimeSpan?>(
            args.Outcome.Result is { } response && RetryAfter.TryGetDelay(response, timeProvider, out TimeSpan delay)
                ? delay
                : null),
    };
}
