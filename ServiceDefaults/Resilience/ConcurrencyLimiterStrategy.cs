using System.Threading.RateLimiting;
using Polly;

namespace Bazaar.ServiceDefaults.Resilience;

/// <summary>Thrown when the concurrency limit is reached; like Polly.RateLimiting's exception of the same name.</summary>
public sealed class RateLimiterRejectedException : ExecutionRejectedException
{
    public RateLimiterRejectedException()
        : base("The rate limiter rejected the execution: too many requests are in flight.")
    {
    }

    public RateLimiterRejectedException(string message)
        : base(message)
    {
    }

    public RateLimiterRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Polly.RateLimiting is absent from the package source, so the limiter strategy is this small one.</summary>
internal sealed class ConcurrencyLimiterStrategy(RateLimiter limiter) : ResilienceStrategy<HttpResponseMessage>
{
    protected override async ValueTask<Outcome<HttpResponseMessage>> ExecuteCore<TState>(
        Func<ResilienceContext, TState, ValueTask<Outcome<HttpResponseMessage>>> callback,
        ResilienceContext context,
        TState state)
    {
        using RateLimitLease lease = await limiter.AcquireAsync(1, context.CancellationToken).ConfigureAwait(context.ContinueOnCapturedContext);
        if (!lease.IsAcquired)
        {
            return Outcome.FromException<HttpResponseMessage>(new RateLimiterRejectedException());
        }

        return await callback(context, state).ConfigureAwait(context.ContinueOnCapturedContext);
    }
}
