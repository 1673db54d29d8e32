using System.Collections.Concurrent;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bazaar.Hosting.Lifecycle;

/// <summary>Marks a resource whose every instance is started again when it exits by itself (DCP does not restart processes).</summary>
public sealed class RestartOnCrashAnnotation : IResourceAnnotation;

/// <summary>How long to wait before a restart: 1 s, doubling to 30 s; a minute of health starts the count again.</summary>
public sealed record RestartBackoff(TimeSpan First, TimeSpan Max, TimeSpan ResetAfter)
{
    public static RestartBackoff Default { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1));

    /// <summary>The delay before restart number <paramref name="attempt"/> (1-based) of a run of crashes.</summary>
    public TimeSpan Delay(int attempt) =>
        TimeSpan.FromTicks(Math.Min(Max.Ticks, First.Ticks * (1L << Math.Clamp(attempt - 1, 0, 30))));
}

/// <summary>
/// Starts again every instance of a resource marked <see cref="RestartOnCrashAnnotation"/> that exits without being asked
/// to, with <see cref="RestartBackoff"/>, and counts the restarts. An instance a person stopped (the dashboard's Stop, or
/// <see cref="ResourceCommandService"/>) stays stopped until started again; nothing restarts while the AppHost stops.
/// </summary>
public sealed class CrashRestart(
    ResourceNotificationService notifications,
    ResourceCommandService commands,
    IHostApplicationLifetime lifetime,
    RestartBackoff backoff,
    ILogger<CrashRestart> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, Instance> _instances = new(StringComparer.Ordinal);
    private readonly HashSet<ResourceCommandAnnotation> _trackedStops = [];

    /// <summary>Restarts of one instance (its resource id) so far.</summary>
    public int RestartsOf(string resourceId) => _instances.TryGetValue(resourceId, out Instance? instance) ? instance.Restarts : 0;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lifetime.ApplicationStopping);
        try
        {
            await foreach (ResourceEvent update in notifications.WatchAsync(stopping.Token).ConfigureAwait(false))
            {
                if (!update.Resource.HasAnnotationOfType<RestartOnCrashAnnotation>())
                {
                    continue;
                }

                TrackStops(update.Resource);
                Instance instance = _instances.GetOrAdd(update.ResourceId, _ => new Instance(update.Resource.Name));
                string? state = update.Snapshot.State?.Text;
                bool wasRunning = instance.LastState == KnownResourceStates.Running;
                instance.LastState = state;
                if (state == KnownResourceStates.Running)
                {
                    instance.StoppedByPerson = false;
                    instance.RunningSince ??= DateTime.UtcNow;
                    continue;
                }

                if (wasRunning && KnownResourceStates.TerminalStates.Contains(state) && !instance.StoppedByPerson && !stopping.IsCancellationRequested)
                {
                    if (instance.RunningSince is DateTime since && DateTime.UtcNow - since >= backoff.ResetAfter)
                    {
                        instance.CrashesInARow = 0;
                    }

                    instance.RunningSince = null;
                    instance.CrashesInARow++;
                    TimeSpan delay = backoff.Delay(instance.CrashesInARow);
                    logger.LogWarning("{Resource} exited by itself ({State}, exit code {ExitCode}); starting it again in {Delay} s.",
                        update.ResourceId, state, update.Snapshot.ExitCode, delay.TotalSeconds);
                    _ = RestartAsync(update.ResourceId, instance, delay, stopping.Token);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The AppHost is stopping: every resource stops with it.
        }
    }

    private async Task RestartAsync(string resourceId, Instance instance, TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            if (instance.StoppedByPerson || instance.LastState == KnownResourceStates.Running)
            {
                return;
            }

            ExecuteCommandResult result = await commands.ExecuteCommandAsync(resourceId, KnownResourceCommands.StartCommand, cancellationToken).ConfigureAwait(false);
            if (result.Success)
            {
                Interlocked.Increment(ref instance.Restarts);
            }
            else
            {
                logger.LogError("Starting {Resource} again failed: {Error}", resourceId, result.Message);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The AppHost is stopping.
        }
    }

    /// <summary>
    /// Wraps the resource's Stop command (added by Aspire when it starts the resource) so that a stop a person asked for is
    /// told apart from a crash: both end in the same state.
    /// </summary>
    private void TrackStops(IResource resource)
    {
        ResourceAnnotationCollection annotations = resource.Annotations;
        lock (annotations)
        {
            for (int i = 0; i < annotations.Count; i++)
            {
                if (annotations[i] is ResourceCommandAnnotation stop && stop.Name == KnownResourceCommands.StopCommand && !_trackedStops.Contains(stop))
                {
                    var tracked = new ResourceCommandAnnotation(
                        stop.Name,
                        stop.DisplayName,
                        stop.UpdateState,
                        context =>
                        {
                            MarkStoppedByPerson(context.ResourceName);
                            return stop.ExecuteCommand(context);
                        },
                        stop.DisplayDescription,
                        stop.Arguments,
                        stop.ConfirmationMessage,
                        stop.IconName,
                        stop.IconVariant,
                        stop.IsHighlighted,
                        stop.Visibility,
                        stop.ValidateArguments);
                    _trackedStops.Add(tracked);
                    annotations[i] = tracked;
                }
            }
        }
    }

    /// <summary>The command names an instance (a replica's id) or, for the resource as a whole, the resource.</summary>
    private void MarkStoppedByPerson(string name)
    {
        bool any = false;
        foreach ((string id, Instance instance) in _instances)
        {
            if (id == name || instance.ResourceName == name)
            {
                instance.StoppedByPerson = true;
                any = true;
            }
        }

        if (!any)
        {
            _instances.GetOrAdd(name, _ => new Instance(name)).StoppedByPerson = true;
        }
    }

    private sealed class Instance(string resourceName)
    {
        public string ResourceName { get; } = resourceName;

        public string? LastState { get; set; }

        public bool StoppedByPerson { get; set; }

        public DateTime? RunningSince { get; set; }

        public int CrashesInARow { get; set; }

        public int Restarts;
    }
}
