namespace Bazaar.Caching;

/// <summary>Settings for one Redis client, bound from <c>Bazaar:Redis:{name}</c>; the connection string comes from <c>ConnectionStrings:{name}</c>.</summary>
public sealed class RedisClientSettings
{
    public string? ConnectionString { get; set; }

    public bool DisableHealthChecks { get; set; }

    /// <summary>How long the PING of the health check may take before it counts as unhealthy.</summary>
    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
