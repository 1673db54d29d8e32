using System.Threading.RateLimiting;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Bazaar.ServiceDefaults.Resilience;

/// <summary>
/// The options of the standard resilience handler, shaped and defaulted like
/// Microsoft.Extensions.Http.Resilience's <c>HttpStandardResilienceOptions</c> so the same
/// configuration keys (e.g. <c>Resilience:Http:Retry:MaxRetryAttempts</c>) mean the same thing.
/// </summary>
public sealed class HttpStandardResilienceOptions
{
    public const string ConfigurationSection = "Resilience:Http";

    public HttpRateLimiterStrategyOptions RateLimiter { get; set; } = new();

    public HttpTimeoutStrategyOptions TotalRequestTimeout { get; set; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public HttpRetryStrategyOptions Retry { get; set; } = new();

    public HttpCircuitBreakerStrategyOptions CircuitBreaker { get; set; } = new();

    public HttpTimeoutStrategyOptions AttemptTimeout { get; set; } = new() { Timeout = TimeSpan.FromSeconds(10) };
}

/// <summary>A concurrency limiter in front of everything else: 1000 requests in flight, none queued.</summary>
public sealed class HttpRateLimiterStrategyOptions : ResilienceStrategyOptions
{
    public HttpRateLimiterStrategyOptions() => Name = "Standard-RateLimiter";

    public ConcurrencyLimiterOptions DefaultRateLimiterOptions { get; set; } = new() { PermitLimit = 1000, QueueLimit = 0 };
}

public sealed class HttpTimeoutStrategyOptions : TimeoutStrategyOptions;

public sealed class HttpRetryStrategyOptions : RetryStrategyOptions<HttpResponseMessage>
{
    public HttpRetryStrategyOptions()
    {
        Name = "Standard-Retry";
        ShouldHandle = args => new ValueTask<bool>(HttpTransientFailures.IsTransient(args.Outcome));
        BackoffType = DelayBackoffType.Exponential;
        UseJitter = true;
        MaxRetryAttempts = 3;
        Delay = TimeSpan.FromSeconds(2);
    }

    /// <summary>When the server says when to come back (Retry-After on a 429 or 503), wait that long instead of the back-off.</summary>
    public bool ShouldRetryAfterHeader { get; set; } = true;
}

public sealed class HttpCircuitBreakerStrategyOptions : CircuitBreakerStrategyOptions<HttpResponseMessage>
{
    public HttpCircuitBreakerStrategyOptions()
    {
        Name = "Standard-CircuitBreaker";
        ShouldHandle = args => new ValueTask<bool>(HttpTransientFailures.IsTransient(args.Outcome));
        FailureRatio = 0.1;
        MinimumThroughput = 100;
        SamplingDuration = TimeSpan.FromSeconds(30);
        BreakDuration = TimeSpan.FromSeconds(5);
    }
}

/// <summary>The failures worth another try: 408, 429, every 5xx, a failed connection, an attempt that timed out.</summary>
public static class HttpTransientFailures
{
    public static bool IsTransient(Outcome<HttpResponseMessage> outcome) => outcome switch
    {
        { Result: { } response } => IsTransient(response),
        { Exception: HttpRequestException or TimeoutRejectedException } => true,
        _ => false,
    };

    public static bool IsTransient(HttpResponseMessage response)
    {
        int status = (int)response.StatusCode;
        return status >= 500 || status == 408 || status == 429;
    }
}
