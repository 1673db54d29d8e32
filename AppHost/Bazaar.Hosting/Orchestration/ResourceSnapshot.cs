namespace Bazaar.Hosting;

/// <summary>The lifecycle of a resource (or of one replica). Every change is published as a snapshot.</summary>
public enum ResourceState
{
    NotStarted,
    Waiting,
    Starting,
    Running,
    Unhealthy,
    Exited,
    FailedToStart,
    Stopping,
    Finished,
}

public enum ResourceHealth
{
    Unknown,
    Healthy,
    Unhealthy,
}

public sealed record HealthCheckSnapshot(string Name, ResourceHealth Status, string? Description, DateTimeOffset CheckedAt);

/// <summary>
/// What is known about a resource or one of its replicas at one moment. <see cref="Name"/> is the replica's name
/// (the resource's name when it has one process); <see cref="ResourceName"/> the resource's.
/// </summary>
public sealed record ResourceSnapshot
{
    public required string Name { get; init; }

    public required string ResourceName { get; init; }

    public required string Type { get; init; }

    /// <summary>The replica index, or null for a resource's summary row.</summary>
    public int? Replica { get; init; }

    public ResourceState State { get; init; }

    public ResourceHealth Health { get; init; }

    public IReadOnlyList<HealthCheckSnapshot> HealthChecks { get; init; } = [];

    public IReadOnlyList<string> Endpoints { get; init; } = [];

    public int? Pid { get; init; }

    public int Restarts { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public int? ExitCode { get; init; }

    /// <summary>Why the resource is in its state, when that needs saying (a failure, a missing program).</summary>
    public string? Message { get; init; }

    public DateTimeOffset Timestamp { get; init; }

    public bool IsHealthy => State == ResourceState.Running && Health == ResourceHealth.Healthy;

    public static string TypeOf(IResource resource) => resource switch
    {
        RedisResource => "Redis",
        RabbitMQServerResource => "RabbitMQ",
        MySqlServerResource => "MySql",
        MySqlDatabaseResource => "MySqlDatabase",
        ProjectResource => "Project",
        ExecutableResource => "Executable",
        _ => resource.GetType().Name.Replace("Resource", string.Empty, StringComparison.Ordinal),
    };
}
