using System.Threading.RateLimiting;
using Polly;
using Polly.Retry;

namespace Bazaar.ServiceDefaults.Resilience;

/// <summary>
/// Builds the pipeline of AddStandardResilienceHandler, outermost first:
/// concurrency limiter, total timeout, retry, circuit breaker, attempt timeout.
/// </summary>
public static class HttpStandardResiliencePipeline
{
    public static ResiliencePipeline<HttpResponseMessage> Create(
        HttpStandardResilienceOptions options,
        TimeProvider timeProvider,
        ResilienceEvents? events = null)
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

        return new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = timeProvider }
            .AddStrategy(_ => new ConcurrencyLimiterStrategy(limiter), options.RateLimiter)
            .AddTimeout(options.TotalRequestTimeout)
            .AddRetry(Retry(options.Retry, timeProvider, events))
            .AddCircuitBreaker(CircuitBreaker(options.CircuitBreaker, events))
            .AddTimeout(options.AttemptTimeout)
            .Build();
    }

    // The bound options objects are shared by every client, so the Retry-After delay and the event callbacks go on copies.
    private static HttpRetryStrategyOptions Retry(HttpRetryStrategyOptions source, TimeProvider timeProvider, ResilienceEvents? events)
    {
        var retry = new HttpRetryStrategyOptions
        {
            Name = source.Name,
            ShouldHandle = source.ShouldHandle,
            BackoffType = source.BackoffType,
            UseJitter = source.UseJitter,
            MaxRetryAttempts = source.MaxRetryAttempts,
            Delay = source.Delay,
            MaxDelay = source.MaxDelay,
            Randomizer = source.Randomizer,
            ShouldRetryAfterHeader = source.ShouldRetryAfterHeader,
            DelayGenerator = source.DelayGenerator,
            OnRetry = source.OnRetry,
        };

        if (retry.ShouldRetryAfterHeader && retry.DelayGenerator is null)
        {
            retry.DelayGenerator = args => new ValueTask<TimeSpan?>(
                args.Outcome.Result is { } response && RetryAfter.TryGetDelay(response, timeProvider, out TimeSpan delay)
                    ? delay
                    : null);
        }

        if (events is not null)
        {
            Func<OnRetryArguments<HttpResponseMessage>, ValueTask>? inner = source.OnRetry;
            retry.OnRetry = args =>
            {
                events.OnRetry(args.Context, args.AttemptNumber, args.RetryDelay, args.Outcome);
                return inner?.Invoke(args) ?? ValueTask.CompletedTask;
            };
        }

        return retry;
    }

    private static HttpCircuitBreakerStrategyOptions CircuitBreaker(HttpCircuitBreakerStrategyOptions source, ResilienceEvents? events)
    {
        if (events is null)
        {
            return source;
        }

        var onOpened = source.OnOpened;
        var onHalfOpened = source.OnHalfOpened;
        var onClosed = source.OnClosed;
        return new HttpCircuitBreakerStrategyOptions
        {
            Name = source.Name,
            ShouldHandle = source.ShouldHandle,
            FailureRatio = source.FailureRatio,
            MinimumThroughput = source.MinimumThroughput,
            SamplingDuration = source.SamplingDuration,
            BreakDuration = source.BreakDuration,
            BreakDurationGenerator = source.BreakDurationGenerator,
            ManualControl = source.ManualControl,
            StateProvider = source.StateProvider,
            OnOpened = args =>
            {
                events.OnOpened(args.BreakDuration, args.Outcome);
                return onOpened?.Invoke(args) ?? ValueTask.CompletedTask;
            },
            OnHalfOpened = args =>
            {
                events.OnHalfOpened();
                return onHalfOpened?.Invoke(args) ?? ValueTask.CompletedTask;
            },
            OnClosed = args =>
            {
                events.OnClosed();
                return onClosed?.Invoke(args) ?? ValueTask.CompletedTask;
            },
        };
    }
}
