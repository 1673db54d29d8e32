namespace Bazaar.Data;

/// <summary>
/// Settings of one MySqlConnector data source, shaped like Aspire's (<c>Aspire.MySqlConnector</c>'s
/// <c>MySqlConnectorSettings</c>) and bound the same way: from <c>Aspire:MySqlConnector</c>, then
/// <c>Aspire:MySqlConnector:{name}</c>; the connection string comes from <c>ConnectionStrings:{name}</c>.
/// </summary>
public sealed class MySqlConnectorSettings
{
    public string? ConnectionString { get; set; }

    public bool DisableHealthChecks { get; set; }

    /// <summary>Leaves MySqlConnector's ActivitySource ("MySqlConnector") out of the tracer.</summary>
    public bool DisableTracing { get; set; }

    /// <summary>Leaves MySqlConnector's meter ("MySqlConnector") out of the metrics.</summary>
    public bool DisableMetrics { get; set; }

    /// <summary>How long the health check may take before it counts as unhealthy.</summary>
    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Retry of transient failures by <c>InTransactionAsync</c>, <c>WithConnectionAsync</c> and <c>WithRetryAsync</c>.</summary>
    public DataRetryOptions Retry { get; set; } = new();
}
