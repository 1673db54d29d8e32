using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bazaar.Hosting;

/// <summary>
/// A network endpoint of a resource. <see cref="Port"/> is the preferred port (null: any free one);
/// the engine allocates one port per replica into <see cref="AllocatedPorts"/> before anything starts.
/// </summary>
public sealed class EndpointAnnotation(string name, string scheme = "tcp", int? port = null) : IResourceAnnotation
{
    public string Name { get; } = name;

    public string Scheme { get; } = scheme;

    public int? Port { get; set; } = port;

    public string Host { get; } = "127.0.0.1";

    /// <summary>Whether the port appears among the resource's URLs (a distribution port does not).</summary>
    public bool IsExternal { get; init; } = true;

    public IReadOnlyList<int> AllocatedPorts { get; internal set; } = [];

    public string UrlFor(int replica) => $"{Scheme}://{Host}:{AllocatedPorts[replica]}";
}

/// <summary>Adds environment variables to each process of the resource when it starts.</summary>
public sealed class EnvironmentCallbackAnnotation(Action<EnvironmentCallbackContext> callback) : IResourceAnnotation
{
    public Action<EnvironmentCallbackContext> Callback { get; } = callback;
}

public sealed class EnvironmentCallbackContext(IResource resource, int replica, IDictionary<string, string> environment)
{
    public IResource Resource { get; } = resource;

    public int Replica { get; } = replica;

    public IDictionary<string, string> EnvironmentVariables { get; } = environment;
}

/// <summary>Start only once <see cref="Resource"/> is running and healthy.</summary>
public sealed record WaitAnnotation(IResource Resource) : IResourceAnnotation;

/// <summary>The resource uses <see cref="Resource"/> (a connection string or service endpoints).</summary>
public sealed record ResourceReferenceAnnotation(IResource Resource) : IResourceAnnotation;

/// <summary>How many processes of the resource run side by side.</summary>
public sealed record ReplicaAnnotation(int Replicas) : IResourceAnnotation;

/// <summary>
/// Runs the resource's processes at this nice value (1..19, lower priority than the default 0), so that under a CPU
/// shortage the kernel serves every other process first; with idle CPU the resource runs as fast as ever.
/// </summary>
public sealed record CpuPriorityAnnotation(int Niceness) : IResourceAnnotation;

/// <summary>Extra command-line arguments.</summary>
public sealed record CommandLineArgsAnnotation(IReadOnlyList<string> Arguments) : IResourceAnnotation;

/// <summary>What a health check sees of one replica.</summary>
public sealed record HealthCheckTarget(IResource Resource, int Replica, IReadOnlyDictionary<string, string> Urls);

/// <summary>A health check the engine runs against each replica; the resource counts as healthy when every check passes.</summary>
public sealed class HealthCheckAnnotation(string name, Func<HealthCheckTarget, CancellationToken, Task<HealthCheckResult>> check) : IResourceAnnotation
{
    public string Name { get; } = name;

    public Func<HealthCheckTarget, CancellationToken, Task<HealthCheckResult>> Check { get; } = check;
}
