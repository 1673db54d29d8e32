namespace Bazaar.Worker.Saga;

/// <summary>
/// A background loop on <see cref="TimeProvider"/> time: runs <see cref="RunOnceAsync"/>, goes again at once while it
/// reports more work, else waits <see cref="Interval"/>; a failure is logged and waits one interval, never ends the loop.
/// </summary>
public abstract class PeriodicWork(TimeProvider time, ILogger logger) : BackgroundService
{
    protected TimeProvider Time { get; } = time;

    protected ILogger Logger { get; } = logger;

    protected abstract TimeSpan Interval { get; }

    /// <summary>Does one round; true when more is waiting and the next round should start at once.</summary>
    protected abstract Task<bool> RunOnceAsync(CancellationToken cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!await RunOnceAsync(stoppingToken))
                {
                    await Task.Delay(Interval, Time, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                PeriodicWorkLog.RoundFailed(Logger, exception, GetType().Name);
                await Task.Delay(Interval, Time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }
}

internal static partial class PeriodicWorkLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "{Work} failed; trying again after its interval")]
    public static partial void RoundFailed(ILogger logger, Exception exception, string work);
}
