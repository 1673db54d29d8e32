using Bazaar.Hosting.Processes;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Bazaar.Hosting;

/// <summary>
/// Runs one replica of a resource through its states: waits for its dependencies, starts its process, probes its
/// health, restarts it with back-off when it crashes, and stops it on request. Databases have no process of their
/// own: they are "running" while their health check passes.
/// </summary>
internal sealed partial class ReplicaRunner
{
    private const int LogTailLines = 15;

    private readonly ApplicationOrchestrator _orchestrator;
    private readonly Lock _lock = new();
    private CancellationTokenSource? _runCancellation;
    private Task _run = Task.CompletedTask;
    private ManagedProcess? _process;
    private ResourceSnapshot _snapshot;

    public ReplicaRunner(ApplicationOrchestrator orchestrator, IResource resource, int replica, IReadOnlyList<string> replicaNames)
    {
        _orchestrator = orchestrator;
        Resource = resource;
        Replica = replica;
        ReplicaNames = replicaNames;
        Name = ProcessEnvironment.ReplicaName(resource, replica);
        _snapshot = new ResourceSnapshot
        {
            Name = Name,
            ResourceName = resource.Name,
            Type = ResourceSnapshot.TypeOf(resource),
            Replica = resource.ReplicaCount() > 1 ? replica : null,
            State = ResourceState.NotStarted,
            Endpoints = Urls.Where(u => u.External).Select(u => u.Url).ToList(),
        };
    }

    public IResource Resource { get; }

    public int Replica { get; }

    public string Name { get; }

    public IReadOnlyList<string> ReplicaNames { get; }

    public ResourceSnapshot Snapshot => _snapshot;

    public ManagedProcess? Process => _process;

    private IEnumerable<(string Name, string Url, bool External)> Urls =>
        Resource.Annotations.OfType<EndpointAnnotation>()
            .Where(e => e.AllocatedPorts.Count > Replica)
            .Select(e => (e.Name, e.UrlFor(Replica), e.IsExternal));

    public void Publish(Func<ResourceSnapshot, ResourceSnapshot> change)
    {
        lock (_lock)
        {
            ResourceSnapshot previous = _snapshot;
            _snapshot = change(previous);
            _orchestrator.Notifications.PublishUpdate(_snapshot, ReplicaNames);
            if (previous.State != _snapshot.State || previous.Health != _snapshot.Health)
            {
                _orchestrator.LogStateChange(_snapshot);
            }
        }
    }

    public void Start(bool countAsRestart = false)
    {
        lock (_lock)
        {
            if (!_run.IsCompleted)
            {
                return;
            }

            if (countAsRestart)
            {
                Publish(s => s with { Restarts = s.Restarts + 1 });
            }

            _runCancellation?.Dispose();
            _runCancellation = new CancellationTokenSource();
            CancellationToken token = _runCancellation.Token;
            _run = Task.Run(() => RunAsync(token), CancellationToken.None);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Task run;
        lock (_lock)
        {
            run = _run;
            _runCancellation?.Cancel();
        }

        ManagedProcess? process = await StopProcessAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await run.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The run loop ends by cancellation.
        }

        // A restart may have launched its process after the run loop last looked at the token and before the process
        // above was read (that one had exited): stopped here, or it would outlive the AppHost (seen as a leftover
        // `sleep 600` after the unit tests).
        process = await StopProcessAsync(cancellationToken).ConfigureAwait(false) ?? process;
        if (_snapshot.State is not (ResourceState.NotStarted or ResourceState.FailedToStart))
        {
            Publish(s => s with { State = ResourceState.Finished, Health = ResourceHealth.Unknown, Pid = null, ExitCode = process?.HasExited == true ? process.Exited.Result : s.ExitCode });
        }
    }

    private async Task<ManagedProcess?> StopProcessAsync(CancellationToken cancellationToken)
    {
        ManagedProcess? process = _process;
        if (process is not null && !process.HasExited)
        {
            Publish(s => s with { State = ResourceState.Stopping, Health = ResourceHealth.Unknown });
            await process.StopAsync(_orchestrator.Options.StopTimeout, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        return process;
    }

    /// <summary>Kills the process as a crash would (for tests and the "kill" command); the engine restarts it.</summary>
    public void Kill() => _process?.Kill();

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        int consecutiveCrashes = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (DependencyGraph.DependenciesOf(Resource).Count > 0)
                {
                    Publish(s => s with { State = ResourceState.Waiting, Message = null });
                    await _orchestrator.WaitForDependenciesAsync(Resource, cancellationToken).ConfigureAwait(false);
                }

                Publish(s => s with { State = ResourceState.Starting, Health = ResourceHealth.Unknown, HealthChecks = [], Message = null, ExitCode = null });
                Task<int> exited;
                try
                {
                    exited = await LaunchAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (ResourceLaunchException ex)
                {
                    _orchestrator.Logs.Write(Name, Resource.Name, ex.Message, isError: true);
                    Publish(s => s with { State = ResourceState.FailedToStart, Health = ResourceHealth.Unhealthy, Message = ex.Message });
                    return;
                }

                DateTimeOffset startedAt = _orchestrator.TimeProvider.GetUtcNow();
                Publish(s => s with { StartedAt = startedAt, Pid = _process?.Pid });
                bool becameHealthy = await MonitorAsync(exited, cancellationToken).ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                int exitCode = await exited.ConfigureAwait(false);
                TimeSpan ranFor = _orchestrator.TimeProvider.GetUtcNow() - startedAt;
                consecutiveCrashes = becameHealthy && ranFor > _orchestrator.Options.RestartDelayCap ? 1 : consecutiveCrashes + 1;
                TimeSpan delay = RestartBackoff.Delay(consecutiveCrashes, _orchestrator.Options.RestartDelay, _orchestrator.Options.RestartDelayCap);
                string message = becameHealthy
                    ? $"Exited with code {exitCode}; restarting in {delay.TotalSeconds:0.#} s."
                    : $"Exited with code {exitCode} before it became healthy; restarting in {delay.TotalSeconds:0.#} s. Last lines of its log:{Environment.NewLine}"
                      + string.Join(Environment.NewLine, _orchestrator.Logs.FailureTail(Name, LogTailLines));
                _orchestrator.Logs.Write(Name, Resource.Name, message, isError: true);
                Publish(s => s with { State = ResourceState.Exited, Health = ResourceHealth.Unhealthy, Pid = null, ExitCode = exitCode, Message = message });
                await Task.Delay(delay, _orchestrator.TimeProvider, cancellationToken).ConfigureAwait(false);
                Publish(s => s with { Restarts = s.Restarts + 1 });
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    /// <summary>Starts the process (none for a database); returns a task that completes when it exits.</summary>
    private async Task<Task<int>> LaunchAsync(CancellationToken cancellationToken)
    {
        if (Resource is not IRunnableResource)
        {
            return Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => 0, TaskScheduler.Default);
        }

        _orchestrator.EnsurePortsFree(Resource, Replica);
        Publish(s => s with { Endpoints = Urls.Where(u => u.External).Select(u => u.Url).ToList() });
        ProcessSpec spec = await _orchestrator.Launcher.PrepareAsync(Resource, Replica, cancellationToken).ConfigureAwait(false);
        _orchestrator.Logs.Write(Name, Resource.Name, $"Starting: {spec.CommandLine}", isError: false);
        try
        {
            _process = ManagedProcess.Start(spec, (line, isError) => _orchestrator.Logs.Write(Name, Resource.Name, line, isError), _orchestrator.Launcher.PidFile(Name));
        }
        catch (Exception ex) when (ex is FileNotFoundException or System.ComponentModel.Win32Exception)
        {
            throw new ResourceLaunchException($"Starting '{Name}' failed: {ex.Message}", ex);
        }

        return _process.Exited;
    }

    /// <summary>Probes health until the process exits or the run is cancelled. Returns whether it was ever healthy.</summary>
    private async Task<bool> MonitorAsync(Task<int> exited, CancellationToken cancellationToken)
    {
        bool becameHealthy = false;
        List<HealthCheckAnnotation> checks = Resource.Annotations.OfType<HealthCheckAnnotation>().ToList();
        var target = new HealthCheckTarget(Resource, Replica, Urls.ToDictionary(u => u.Name, u => u.Url));
        while (!exited.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            IReadOnlyList<HealthCheckSnapshot> results = await RunChecksAsync(checks, target, cancellationToken).ConfigureAwait(false);
            bool healthy = results.All(r => r.Status == ResourceHealth.Healthy);
            if (exited.IsCompleted || cancellationToken.IsCancellationRequested)
            {
                break;
            }

            if (healthy && !becameHealthy && Resource is BackingServerResource server)
            {
                try
                {
                    await server.OnReadyAsync(_orchestrator.Launcher.ServerContext(server), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    healthy = false;
                    results = [.. results, new HealthCheckSnapshot("initialise", ResourceHealth.Unhealthy, ex.Message, _orchestrator.TimeProvider.GetUtcNow())];
                }
            }

            becameHealthy |= healthy;
            ResourceState state = healthy ? ResourceState.Running : becameHealthy ? ResourceState.Unhealthy : ResourceState.Starting;
            Publish(s => s with
            {
                State = state,
                Health = healthy ? ResourceHealth.Healthy : becameHealthy ? ResourceHealth.Unhealthy : ResourceHealth.Unknown,
                HealthChecks = results,
            });

            TimeSpan interval = healthy ? _orchestrator.Options.HealthProbeInterval : _orchestrator.Options.StartupProbeInterval;
            await Task.WhenAny(exited, Task.Delay(interval, _orchestrator.TimeProvider, cancellationToken)).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
        return becameHealthy;
    }

    private async Task<IReadOnlyList<HealthCheckSnapshot>> RunChecksAsync(
        List<HealthCheckAnnotation> checks, HealthCheckTarget target, CancellationToken cancellationToken)
    {
        var results = new List<HealthCheckSnapshot>(checks.Count);
        foreach (HealthCheckAnnotation check in checks)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            HealthCheckResult result;
            try
            {
                result = await check.Check(target, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                result = HealthCheckResult.Unhealthy($"{check.Name} did not answer within 10 s.");
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A probe that throws is a failed probe, never a reason to stop watching the resource.
                result = HealthCheckResult.Unhealthy($"{check.Name} failed: {ex.GetBaseException().Message}", ex);
            }

            results.Add(new HealthCheckSnapshot(
                check.Name,
                result.Status == HealthStatus.Healthy ? ResourceHealth.Healthy : ResourceHealth.Unhealthy,
                result.Description,
                _orchestrator.TimeProvider.GetUtcNow()));
        }

        return results;
    }
}
