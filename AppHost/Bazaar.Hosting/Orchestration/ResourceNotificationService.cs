using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Bazaar.Hosting;

/// <summary>
/// The current snapshot of every resource and replica, and the stream of their changes. Resources with replicas
/// also get a summary row under the resource's own name.
/// </summary>
public sealed class ResourceNotificationService
{
    private static readonly ResourceState[] SummaryPrecedence =
    [
        ResourceState.FailedToStart, ResourceState.Exited, ResourceState.Unhealthy, ResourceState.Starting,
        ResourceState.Waiting, ResourceState.Stopping, ResourceState.NotStarted, ResourceState.Running, ResourceState.Finished,
    ];

    private readonly Lock _lock = new();
    private readonly Dictionary<string, ResourceSnapshot> _snapshots = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _order = [];
    private readonly List<Channel<ResourceSnapshot>> _watchers = [];
    private readonly TimeProvider _timeProvider;

    public ResourceNotificationService(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
    }

    /// <summary>Every current snapshot: per resource (summaries included) and per replica, in model order.</summary>
    public IReadOnlyList<ResourceSnapshot> GetCurrentSnapshots()
    {
        lock (_lock)
        {
            return _order.Select(name => _snapshots[name]).ToList();
        }
    }

    public bool TryGetCurrentSnapshot(string name, out ResourceSnapshot snapshot)
    {
        lock (_lock)
        {
            return _snapshots.TryGetValue(name, out snapshot!);
        }
    }

    /// <summary>The current snapshots, then every change, until cancelled.</summary>
    public async IAsyncEnumerable<ResourceSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<ResourceSnapshot>(new UnboundedChannelOptions { SingleReader = true });
        lock (_lock)
        {
            foreach (string name in _order)
            {
                channel.Writer.TryWrite(_snapshots[name]);
            }

            _watchers.Add(channel);
        }

        try
        {
            await foreach (ResourceSnapshot snapshot in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return snapshot;
            }
        }
        finally
        {
            lock (_lock)
            {
                _watchers.Remove(channel);
            }
        }
    }

    /// <summary>Waits until the resource (every replica) or replica is Running and healthy; fails fast when it cannot start.</summary>
    public Task<ResourceSnapshot> WaitForResourceHealthyAsync(string name, CancellationToken cancellationToken = default) =>
        WaitForResourceAsync(name, s => s.IsHealthy, cancellationToken);

    public async Task<ResourceSnapshot> WaitForResourceAsync(string name, Func<ResourceSnapshot, bool> predicate, CancellationToken cancellationToken = default)
    {
        await foreach (ResourceSnapshot snapshot in WatchAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!string.Equals(snapshot.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (predicate(snapshot))
            {
                return snapshot;
            }

            if (snapshot.State == ResourceState.FailedToStart)
            {
                throw new DistributedApplicationException($"'{name}' failed to start: {snapshot.Message}");
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        throw new OperationCanceledException(cancellationToken);
    }

    internal void PublishUpdate(ResourceSnapshot snapshot, IReadOnlyList<string>? replicaNames = null)
    {
        snapshot = snapshot with { Timestamp = _timeProvider.GetUtcNow() };
        lock (_lock)
        {
            if (replicaNames is { Count: > 1 } && !_order.Contains(snapshot.ResourceName, StringComparer.OrdinalIgnoreCase))
            {
                // The summary row comes before its replicas.
                _order.Add(snapshot.ResourceName);
            }

            Store(snapshot);
            if (replicaNames is { Count: > 1 })
            {
                List<ResourceSnapshot> replicas = replicaNames.Where(_snapshots.ContainsKey).Select(n => _snapshots[n]).ToList();
                Store(Summarize(snapshot.ResourceName, snapshot.Type, replicas));
            }
        }
    }

    private void Store(ResourceSnapshot snapshot)
    {
        if (!_order.Contains(snapshot.Name, StringComparer.OrdinalIgnoreCase))
        {
            _order.Add(snapshot.Name);
        }

        _snapshots[snapshot.Name] = snapshot;
        foreach (Channel<ResourceSnapshot> watcher in _watchers)
        {
            watcher.Writer.TryWrite(snapshot);
        }
    }

    private ResourceSnapshot Summarize(string resourceName, string type, List<ResourceSnapshot> replicas)
    {
        ResourceState state = SummaryPrecedence.First(s => replicas.Any(r => r.State == s) || s == ResourceState.Finished);
        ResourceHealth health = replicas.All(r => r.Health == ResourceHealth.Healthy) ? ResourceHealth.Healthy
            : replicas.Any(r => r.Health == ResourceHealth.Unhealthy) ? ResourceHealth.Unhealthy
            : ResourceHealth.Unknown;
        return new ResourceSnapshot
        {
            Name = resourceName,
            ResourceName = resourceName,
            Type = type,
            State = state,
            Health = health,
            Endpoints = replicas.SelectMany(r => r.Endpoints).ToList(),
            Restarts = replicas.Sum(r => r.Restarts),
            StartedAt = replicas.Min(r => r.StartedAt),
            Message = replicas.Select(r => r.Message).FirstOrDefault(m => m is not null),
            Timestamp = _timeProvider.GetUtcNow(),
        };
    }
}
