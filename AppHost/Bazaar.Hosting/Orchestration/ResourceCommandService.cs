namespace Bazaar.Hosting;

/// <summary>Start, stop or restart a resource (every replica) or one replica, by name.</summary>
public sealed class ResourceCommandService
{
    private readonly ApplicationOrchestrator _orchestrator;

    internal ResourceCommandService(ApplicationOrchestrator orchestrator)
    {
        _orchestrator = orchestrator;
    }

    public async Task StartAsync(string resourceOrReplicaName, CancellationToken cancellationToken = default)
    {
        await _orchestrator.PrepareAsync(cancellationToken).ConfigureAwait(false);
        foreach (ReplicaRunner runner in _orchestrator.Find(resourceOrReplicaName))
        {
            runner.Start();
        }
    }

    /// <summary>Stops gracefully (SIGTERM, then SIGKILL after the stop timeout); the engine does not restart it.</summary>
    public async Task StopAsync(string resourceOrReplicaName, CancellationToken cancellationToken = default) =>
        await Task.WhenAll(_orchestrator.Find(resourceOrReplicaName).Select(r => r.StopAsync(cancellationToken))).ConfigureAwait(false);

    /// <summary>Stops and starts again; counted in the restarts, as a crash restart is.</summary>
    public async Task RestartAsync(string resourceOrReplicaName, CancellationToken cancellationToken = default)
    {
        await StopAsync(resourceOrReplicaName, cancellationToken).ConfigureAwait(false);
        await _orchestrator.PrepareAsync(cancellationToken).ConfigureAwait(false);
        foreach (ReplicaRunner runner in _orchestrator.Find(resourceOrReplicaName))
        {
            runner.Start(countAsRestart: true);
        }
    }

    /// <summary>Kills the process with SIGKILL, as a crash would: the engine restarts it with back-off.</summary>
    public void Kill(string resourceOrReplicaName)
    {
        foreach (ReplicaRunner runner in _orchestrator.Find(resourceOrReplicaName))
        {
            runner.Kill();
        }
    }
}
