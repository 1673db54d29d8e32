namespace Bazaar.Data;

/// <summary>Settings for one data source, bound from <c>Bazaar:MySql:{name}</c>; the connection string comes from <c>ConnectionStrings:{name}</c>.</summary>
public sealed class MySqlDataSourceSettings
{
    public string? ConnectionString { get; set; }

    public bool DisableHealthChecks { get; set; }

    /// <summary>How long the health check may take before it counts as unhealthy.</summary>
    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Retry of transient failures by <see cref="MySqlDataSource.InTransactionAsync{T}"/> and friends.</summary>
    public DataRetryOptions Retry { get; set; } = new();
}
