using Bazaar.Hosting.Processes;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bazaar.Hosting;

/// <summary>User name and password of a backing server, generated once per data directory.</summary>
public sealed record ServerCredentials(string UserName, string Password);

/// <summary>Where a backing server keeps its data, and where its messages go.</summary>
public sealed record ServerLaunchContext(string DataDirectory, Action<string> Log);

/// <summary>
/// A server the engine runs either as a local process from the machine's own binaries or as a container.
/// Subclasses say how to prepare its data directory, how to start it and how to tell that it answers.
/// </summary>
public abstract class BackingServerResource : Resource, IRunnableResource, IResourceWithEndpoints, IResourceWithWaitSupport
{
    public const string PrimaryEndpointName = "tcp";

    protected BackingServerResource(string name, int? defaultPort)
        : base(name)
    {
        PrimaryEndpoint = new EndpointAnnotation(PrimaryEndpointName, "tcp", defaultPort);
        Annotations.Add(PrimaryEndpoint);
        Annotations.Add(new HealthCheckAnnotation(HealthCheckName, (_, ct) => CheckHealthAsync(ct)));
    }

    public EndpointAnnotation PrimaryEndpoint { get; }

    /// <summary>The port clients connect to (allocated by the engine).</summary>
    public int Port => PrimaryEndpoint.AllocatedPorts is [int port, ..]
        ? port
        : throw new InvalidOperationException($"The port of '{Name}' is not allocated yet: start the application first.");

    /// <summary>Generated once per data directory by the engine; null until then.</summary>
    public ServerCredentials? Credentials { get; internal set; }

    protected ServerCredentials RequiredCredentials => Credentials
        ?? throw new InvalidOperationException($"The credentials of '{Name}' are not generated yet: start the application first.");

    /// <summary>The user name to generate credentials for (null when the server only has a password).</summary>
    public virtual string DefaultUserName => "bazaar";

    /// <summary>The apt package with the server's binaries, named in the error when they are missing.</summary>
    public abstract string PackageName { get; }

    /// <summary>The program the local runtime starts.</summary>
    public abstract string ServerProgram { get; }

    public abstract string ContainerImage { get; }

    /// <summary>The port the server listens on inside its container.</summary>
    public abstract int ContainerPort { get; }

    protected abstract string HealthCheckName { get; }

    /// <summary>First-start initialisation and configuration files; runs before every start of the local process.</summary>
    public abstract Task PrepareAsync(ServerLaunchContext context, CancellationToken cancellationToken);

    public abstract ProcessSpec CreateProcessSpec(ServerLaunchContext context);

    /// <summary>The environment variables and arguments the container needs, after the image name.</summary>
    protected abstract (IReadOnlyDictionary<string, string> Environment, string ContainerDataPath, IReadOnlyList<string> Arguments) ContainerSettings { get; }

    /// <summary>The exact <c>docker run</c> command for this server: same port, credentials and data directory as the local process.</summary>
    public ProcessSpec CreateContainerSpec(ServerLaunchContext context)
    {
        (IReadOnlyDictionary<string, string> environment, string containerDataPath, IReadOnlyList<string> arguments) = ContainerSettings;
        // A container's data format differs from the local server's (MySQL 8 vs MariaDB), so it gets a folder of its own.
        string hostDataPath = Path.Combine(context.DataDirectory, "container");
        var args = new List<string>
        {
            "run", "--rm",
            "--name", $"bazaar-{Name}-{Port}",
            "--hostname", $"bazaar-{Name}",
            "-p", $"127.0.0.1:{Port}:{ContainerPort}",
            "-v", $"{hostDataPath}:{containerDataPath}",
        };
        foreach ((string key, string value) in environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            args.Add("-e");
            args.Add($"{key}={value}");
        }

        args.Add(ContainerImage);
        args.AddRange(arguments);
        return new ProcessSpec("docker", args);
    }

    /// <summary>Whether the server answers: Redis PING, an AMQP connection, MySQL SELECT 1.</summary>
    public abstract Task<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken);

    /// <summary>Runs once the server answers, before it counts as healthy (creates databases, for instance).</summary>
    public virtual Task OnReadyAsync(ServerLaunchContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}
