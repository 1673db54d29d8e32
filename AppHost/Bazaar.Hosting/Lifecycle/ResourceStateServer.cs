using System.Collections.Concurrent;
using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bazaar.Hosting.Lifecycle;

/// <summary>One resource or replica as scripts read it from <c>GET /api/resources</c>.</summary>
public sealed record ResourceState(
    string Name,
    string Type,
    string State,
    string? Health,
    IReadOnlyList<string> Endpoints,
    int? Pid,
    int Restarts,
    DateTime? StartedAt,
    int? ExitCode,
    string Id);

/// <summary>
/// Serves <c>GET /api/resources</c> on its own loopback address (BAZAAR_STATE_URL): every resource's state, health,
/// endpoints, pid, restarts, start time and exit code from Aspire's <see cref="ResourceNotificationService"/>. A resource
/// with replicas is listed once as a whole (named as in the model) and once per replica (<c>name-0</c>, <c>name-1</c>, …).
/// </summary>
public sealed class ResourceStateServer(
    ResourceNotificationService notifications,
    CrashRestart restarts,
    ResourceStateServerOptions options,
    ILogger<ResourceStateServer> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, ResourceEvent> _latest = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _replicaIndex = new(StringComparer.Ordinal);
    private WebApplication? _app;

    /// <summary>The current list, as served.</summary>
    public IReadOnlyList<ResourceState> Snapshot()
    {
        var list = new List<ResourceState>();
        foreach (IGrouping<string, ResourceEvent> resource in _latest.Values
                     .Where(e => !e.Snapshot.IsHidden && e.Resource is not ParameterResource)
                     .GroupBy(e => e.Resource.Name)
                     .OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            ResourceEvent[] instances = resource.OrderBy(e => _replicaIndex.GetValueOrDefault(e.ResourceId)).ToArray();
            if (instances.Length == 1)
            {
                list.Add(ToState(resource.Key, instances[0]));
                continue;
            }

            ResourceState[] replicas = instances.Select(e => ToState($"{resource.Key}-{_replicaIndex.GetValueOrDefault(e.ResourceId)}", e)).ToArray();
            list.Add(new ResourceState(
                resource.Key,
                replicas[0].Type,
                replicas.All(r => r.State == replicas[0].State) ? replicas[0].State : "Mixed",
                replicas.All(r => r.Health == "Healthy") ? "Healthy" : replicas.Any(r => r.Health == "Unhealthy") ? "Unhealthy" : replicas[0].Health,
                replicas.SelectMany(r => r.Endpoints).Distinct().ToArray(),
                Pid: null,
                replicas.Sum(r => r.Restarts),
                replicas.Min(r => r.StartedAt),
                ExitCode: null,
                resource.Key));
            list.AddRange(replicas);
        }

        return list;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        WebApplicationBuilder web = WebApplication.CreateSlimBuilder();
        web.Logging.ClearProviders();
        web.WebHost.UseUrls(options.Url);
        _app = web.Build();
        _app.MapGet("/api/resources", () => Results.Json(Snapshot(), ResourceStateJson.Options));
        await _app.StartAsync(stoppingToken).ConfigureAwait(false);
        logger.LogInformation("Resource states for scripts: {Url}/api/resources", options.Url.TrimEnd('/'));

        try
        {
            await foreach (ResourceEvent update in notifications.WatchAsync(stoppingToken).ConfigureAwait(false))
            {
                _replicaIndex.GetOrAdd(update.ResourceId, _ => _replicaIndex.Keys.Count(id => _latest.TryGetValue(id, out ResourceEvent? e) && e.Resource == update.Resource));
                _latest[update.ResourceId] = update;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private ResourceState ToState(string name, ResourceEvent update)
    {
        CustomResourceSnapshot snapshot = update.Snapshot;
        object? pid = snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value;
        return new ResourceState(
            name,
            snapshot.ResourceType,
            snapshot.State?.Text is { Length: > 0 } state ? state : KnownResourceStates.NotStarted,
            snapshot.HealthStatus?.ToString(),
            snapshot.Urls.Where(u => !u.IsInternal).Select(u => u.Url).ToArray(),
            pid is null ? null : ServiceProcess(update.Resource, Convert.ToInt32(pid, CultureInfo.InvariantCulture)),
            restarts.RestartsOf(update.ResourceId),
            snapshot.StartTimeStamp,
            snapshot.ExitCode,
            update.ResourceId);
    }

    /// <summary>
    /// Aspire starts a project as <c>dotnet run --no-build</c>, which starts the service as its only child: the pid a script
    /// wants (to read or to signal) is the child's.
    /// </summary>
    private static int ServiceProcess(IResource resource, int pid)
    {
        if (resource is not ProjectResource || !OperatingSystem.IsLinux())
        {
            return pid;
        }

        try
        {
            string[] children = File.ReadAllText($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return children.Length == 1 && int.TryParse(children[0], CultureInfo.InvariantCulture, out int child) ? child : pid;
        }
        catch (IOException)
        {
            return pid;
        }
    }
}

public sealed record ResourceStateServerOptions(string Url);

internal static class ResourceStateJson
{
    public static readonly System.Text.Json.JsonSerializerOptions Options = new(System.Text.Json.JsonSerializerDefaults.Web);
}
