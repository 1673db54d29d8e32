namespace Bazaar.Messaging;

/// <summary>Settings for the RabbitMQ connection, bound from <c>Bazaar:RabbitMQ:{name}</c>; the URI comes from <c>ConnectionStrings:{name}</c>.</summary>
public sealed class RabbitMQClientSettings
{
    public string? ConnectionString { get; set; }

    public bool DisableHealthChecks { get; set; }

    /// <summary>How long resolving <c>IConnection</c> synchronously from DI keeps trying to reach the broker.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Pause between automatic recovery attempts after the broker goes away.</summary>
    public TimeSpan NetworkRecoveryInterval { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
