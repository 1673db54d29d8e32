using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bazaar.Caching;

/// <summary>Degraded (not Unhealthy) without Redis: reads still work from L1 and the source, only slower.</summary>
internal sealed class TwoLevelCacheHealthCheck(TwoLevelCache cache) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!cache.Enabled)
        {
            return Task.FromResult(HealthCheckResult.Healthy("Cache turned off by configuration; every read goes to the source."));
        }

        if (cache.L2.Multiplexer is null)
        {
            return Task.FromResult(HealthCheckResult.Degraded("No Redis configured; caching in process only."));
        }

        return Task.FromResult(cache.IsL2Available
            ? HealthCheckResult.Healthy("L1 and Redis L2 in use.")
            : HealthCheckResult.Degraded("Redis unavailable; serving from L1 and the source."));
    }
}
