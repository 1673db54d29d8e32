using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Bazaar.ServiceDefaults.Hosting;
using Microsoft.Extensions.Options;

namespace Bazaar.Order.Api.Placement;

/// <summary>Order placement protection, bound from <c>Orders:Placement</c>.</summary>
public sealed class PlacementLimitOptions
{
    public const string SectionName = "Orders:Placement";

    /// <summary>Burst a single buyer may send at once.</summary>
    [Range(1, 1_000_000)]
    public int TokensPerUser { get; set; } = 20;

    /// <summary>Tokens a buyer gets back per second.</summary>
    [Range(1, 1_000_000)]
    public int TokensPerSecond { get; set; } = 10;

    /// <summary>
    /// Placements in flight across all buyers; more wait in the queue, and beyond the queue the endpoint answers 503 at once.
    /// Small on purpose: the MySQL driver blocks a thread per command, so more in flight only adds threads, not orders.
    /// </summary>
    [Range(1, 100_000)]
    public int ConcurrencyLimit { get; set; } = 64;

    [Range(0, 100_000)]
    public int ConcurrencyQueue { get; set; } = 4096;
}

/// <summary>
/// A per-user token bucket (429 with Retry-After when empty) and a concurrency limit on the whole endpoint
/// (503 with Retry-After when full), as an endpoint filter so each refusal is a problem document saying which it was.
/// </summary>
internal sealed class PlacementLimiter : IEndpointFilter, IDisposable
{
    private readonly PartitionedRateLimiter<string> _perUser;
    private readonly ConcurrencyLimiter _concurrency;

    public PlacementLimiter(IOptions<PlacementLimitOptions> options)
    {
        PlacementLimitOptions limits = options.Value;
        _perUser = PartitionedRateLimiter.Create<string, string>(user => RateLimitPartition.GetTokenBucketLimiter(user, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = limits.TokensPerUser,
            TokensPerPeriod = limits.TokensPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
        _concurrency = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = limits.ConcurrencyLimit,
            QueueLimit = limits.ConcurrencyQueue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        string user = context.HttpContext.User.FindFirstValue("sub") ?? "anonymous";
        using RateLimitLease userLease = _perUser.AttemptAcquire(user);
        if (!userLease.IsAcquired)
        {
            TimeSpan retryAfter = userLease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan wait) ? wait : TimeSpan.FromSeconds(1);
            return Refuse(context.HttpContext, StatusCodes.Status429TooManyRequests, "Too many orders",
                "You are placing orders faster than allowed; retry after the time in Retry-After.", retryAfter);
        }

        using RateLimitLease slot = await _concurrency.AcquireAsync(1, context.HttpContext.RequestAborted);
        if (!slot.IsAcquired)
        {
            return Refuse(context.HttpContext, StatusCodes.Status503ServiceUnavailable, "Too busy",
                "Order placement is at its concurrency limit; retry after the time in Retry-After.", TimeSpan.FromSeconds(1));
        }

        return await next(context);
    }

    public static IResult Refuse(HttpContext http, int status, string title, string detail, TimeSpan retryAfter)
    {
        http.Response.SetRetryAfter(retryAfter);
        return TypedResults.Problem(statusCode: status, title: title, detail: detail);
    }

    public void Dispose()
    {
        _perUser.Dispose();
        _concurrency.Dispose();
    }
}
