using Bazaar.Hosting;
using Microsoft.Extensions.Logging;

namespace Bazaar.Dashboard;

/// <summary>
/// Runs the start/stop/restart buttons' commands in the background: a stop waits for a graceful exit, and the
/// page should answer at once and show the transition through its live updates instead.
/// </summary>
public sealed partial class ResourceActions(ResourceCommandService commands, ILogger<ResourceActions> logger)
{
    private volatile string? _lastError;

    /// <summary>The last command that failed, shown on the resources page until the next command.</summary>
    public string? LastError => _lastError;

    public void Run(ResourceAction action, string resourceName)
    {
        _lastError = null;
        Func<CancellationToken, Task> command = action switch
        {
            ResourceAction.Start => ct => commands.StartAsync(resourceName, ct),
            ResourceAction.Stop => ct => commands.StopAsync(resourceName, ct),
            _ => ct => commands.RestartAsync(resourceName, ct),
        };
        LogCommand(logger, action, resourceName);
        _ = Task.Run(async () =>
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
                await command(timeout.Token);
            }
            catch (Exception exception)
            {
                _lastError = $"{action} {resourceName} failed: {exception.Message}";
                LogCommandFailed(logger, exception, action, resourceName);
            }
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Dashboard command: {Action} {Resource}")]
    private static partial void LogCommand(ILogger logger, ResourceAction action, string resource);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dashboard command {Action} {Resource} failed")]
    private static partial void LogCommandFailed(ILogger logger, Exception exception, ResourceAction action, string resource);
}

public enum ResourceAction { Start, Stop, Restart }
