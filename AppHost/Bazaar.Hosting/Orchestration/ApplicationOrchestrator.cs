using Bazaar.Hosting.Processes;
using Microsoft.Extensions.Logging;

namespace Bazaar.Hosting;

/// <summary>
/// Owns the replicas of every resource: prepares the data directory (leftovers, credentials, ports), starts
/// everything (each replica waits for what it depends on), and stops in reverse dependency order.
/// </summary>
internal sealed partial class ApplicationOrchestrator
{
    private readonly DistributedApplicationModel _model;
    private readonly ILogger _logger;
    private readonly Dictionary<IResource, List<ReplicaRunner>> _replicas = [];
    private bool _prepared;
    private DataDirectoryState? _state;

    public ApplicationOrchestrator(
        DistributedApplicationOptions options,
        DistributedApplicationModel model,
        ResourceNotificationService notifications,
        ResourceLoggerService logs,
        ILogger<ApplicationOrchestrator> logger,
        TimeProvider timeProvider)
    {
        Options = options;
        _model = model;
        Notifications = notifications;
        Logs = logs;
        _logger = logger;
        TimeProvider = timeProvider;
        ProjectRoot = options.ResolveProjectRoot();
        DataDirectory = options.ResolveDataDirectory();
        Launcher = new ProcessLauncher(options, DataDirectory, ProjectRoot, logs);
    }

    public DistributedApplicationOptions Options { get; }

    public ResourceNotificationService Notifications { get; }

    public ResourceLoggerService Logs { get; }

    public TimeProvider TimeProvider { get; }

    public ProcessLauncher Launcher { get; }

    public string ProjectRoot { get; }

    public string DataDirectory { get; }

    /// <summary>Data directory, leftovers of a killed run, credentials and ports: everything decided before a process starts.</summary>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (_prepared)
        {
            return;
        }

        if (Options.Fresh && Directory.Exists(DataDirectory))
        {
            await EndLeftoversAsync(cancellationToken).ConfigureAwait(false);
            Directory.Delete(DataDirectory, recursive: true);
        }

        Directory.CreateDirectory(DataDirectory);
        await EndLeftoversAsync(cancellationToken).ConfigureAwait(false);

        var state = new DataDirectoryState(DataDirectory);
        _state = state;
        foreach (GeneratedSecret secret in _model.Secrets)
        {
            secret.Value = state.CredentialsFor($"secret/{secret.Name}", string.Empty).Password;
        }

        foreach (IResource resource in _model.Resources)
        {
            if (resource is BackingServerResource server)
            {
                server.Credentials = state.CredentialsFor(server.Name, server.DefaultUserName);
            }

            int replicas = resource.ReplicaCount();
            foreach (EndpointAnnotation endpoint in resource.Annotations.OfType<EndpointAnnotation>())
            {
                endpoint.AllocatedPorts = Enumerable.Range(0, replicas)
                    .Select(replica => state.AllocatePort(
                        $"{resource.Name}/{endpoint.Name}/{replica}",
                        Options.UseFreePorts || endpoint.Port is null ? null : endpoint.Port + replica))
                    .ToList();
            }
        }

        foreach (IResource resource in DependencyGraph.StartOrder(_model))
        {
            int replicas = resource.ReplicaCount();
            List<string> names = Enumerable.Range(0, replicas).Select(r => ProcessEnvironment.ReplicaName(resource, r)).ToList();
            _replicas[resource] = Enumerable.Range(0, replicas).Select(r => new ReplicaRunner(this, resource, r, names)).ToList();
            foreach (ReplicaRunner runner in _replicas[resource])
            {
                Notifications.PublishUpdate(runner.Snapshot, runner.ReplicaNames);
            }
        }

        _prepared = true;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await PrepareAsync(cancellationToken).ConfigureAwait(false);
        LogStarting(_logger, DataDirectory, Options.Runtime);
        foreach (ReplicaRunner runner in _replicas.Values.SelectMany(r => r))
        {
            runner.Start();
        }
    }

    /// <summary>Stops every resource once everything that depends on it has stopped.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var stopped = new Dictionary<IResource, Task>();
        Task StopResource(IResource resource)
        {
            if (!stopped.TryGetValue(resource, out Task? task))
            {
                List<Task> dependents = DependencyGraph.DependentsOf(_model, resource).Select(StopResource).ToList();
                task = StopAfterAsync(resource, dependents, cancellationToken);
                stopped[resource] = task;
            }

            return task;
        }

        await Task.WhenAll(_model.Resources.Select(StopResource).ToList()).ConfigureAwait(false);
    }

    private async Task StopAfterAsync(IResource resource, List<Task> dependents, CancellationToken cancellationToken)
    {
        await Task.WhenAll(dependents).ConfigureAwait(false);
        if (_replicas.TryGetValue(resource, out List<ReplicaRunner>? runners))
        {
            await Task.WhenAll(runners.Select(r => r.StopAsync(cancellationToken))).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Before a replica (re)starts: a port that was free when allocated may have been taken since by another program;
    /// move to a free one rather than fail on "address in use".
    /// </summary>
    public void EnsurePortsFree(IResource resource, int replica)
    {
        if (_state is null)
        {
            return;
        }

        foreach (EndpointAnnotation endpoint in resource.Annotations.OfType<EndpointAnnotation>())
        {
            if (endpoint.AllocatedPorts.Count > replica && !PortProbe.IsFree(endpoint.AllocatedPorts[replica]))
            {
                int busy = endpoint.AllocatedPorts[replica];
                int port = _state.ReallocatePort($"{resource.Name}/{endpoint.Name}/{replica}", busy);
                endpoint.AllocatedPorts = endpoint.AllocatedPorts.Select((p, i) => i == replica ? port : p).ToList();
                LogPortMoved(_logger, ProcessEnvironment.ReplicaName(resource, replica), busy, port);
            }
        }
    }

    /// <summary>Gives the ports claimed by this run back to other engines on the machine.</summary>
    public void ReleasePorts() => _state?.ReleasePorts();

    /// <summary>The replicas a name stands for: one replica by its name, or every replica of a resource.</summary>
    public IReadOnlyList<ReplicaRunner> Find(string name)
    {
        foreach ((IResource resource, List<ReplicaRunner> runners) in _replicas)
        {
            if (string.Equals(resource.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return runners;
            }

            if (runners.FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase)) is { } runner)
            {
                return [runner];
            }
        }

        throw new DistributedApplicationException(
            $"There is no resource or replica named '{name}'. Known: {string.Join(", ", _replicas.Values.SelectMany(r => r).Select(r => r.Name))}.");
    }

    public IEnumerable<ReplicaRunner> AllReplicas => _replicas.Values.SelectMany(r => r);

    /// <summary>Completes once every replica of every resource <paramref name="resource"/> waits for is running and healthy.</summary>
    public async Task WaitForDependenciesAsync(IResource resource, CancellationToken cancellationToken)
    {
        foreach (IResource dependency in DependencyGraph.DependenciesOf(resource))
        {
            // Not WaitForResourceHealthyAsync, which throws once the dependency failed to start: this waits that out, as a
            // person may fix it and start it again.
            await foreach (ResourceSnapshot snapshot in Notifications.WatchAsync(cancellationToken).ConfigureAwait(false))
            {
                if (string.Equals(snapshot.Name, dependency.Name, StringComparison.OrdinalIgnoreCase) && snapshot.IsHealthy)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Ends the processes a previous run left behind (its AppHost was killed before it could stop them).</summary>
    private async Task EndLeftoversAsync(CancellationToken cancellationToken)
    {
        string pids = Path.Combine(DataDirectory, "pids");
        if (!Directory.Exists(pids))
        {
            return;
        }

        foreach (string pidFile in Directory.EnumerateFiles(pids, "*.pid"))
        {
            if (await ManagedProcess.EndLeftoverAsync(pidFile, Options.StopTimeout, cancellationToken).ConfigureAwait(false))
            {
                LogLeftoverEnded(_logger, Path.GetFileNameWithoutExtension(pidFile));
            }
        }
    }

    public void LogStateChange(ResourceSnapshot snapshot)
    {
        if (snapshot.State is ResourceState.FailedToStart or ResourceState.Exited)
        {
            LogResourceFailed(_logger, snapshot.Name, snapshot.State, snapshot.Message);
        }
        else
        {
            LogResourceState(_logger, snapshot.Name, snapshot.State, snapshot.Health);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Starting the application; data directory {DataDirectory}, runtime {Runtime}")]
    private static partial void LogStarting(ILogger logger, string dataDirectory, ContainerRuntime runtime);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ended '{Replica}', left running by a previous AppHost that did not stop it")]
    private static partial void LogLeftoverEnded(ILogger logger, string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Replica}: port {BusyPort} was taken by another program; using {Port}")]
    private static partial void LogPortMoved(ILogger logger, string replica, int busyPort, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Replica}: {State} ({Health})")]
    private static partial void LogResourceState(ILogger logger, string replica, ResourceState state, ResourceHealth health);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Replica}: {State}. {Reason}")]
    private static partial void LogResourceFailed(ILogger logger, string replica, ResourceState state, string? reason);
}
