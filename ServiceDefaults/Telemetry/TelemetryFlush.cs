using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Bazaar.ServiceDefaults.Telemetry;

/// <summary>
/// Bounds what stopping a service spends on telemetry. OpenTelemetry.Extensions.Hosting registers the tracer, meter and
/// logger providers in the container, which shuts each down when it is disposed, with the SDK's own limits: 10 s for each
/// export and 5 s for each provider's shutdown, and a metric flush exports on the calling thread whatever timeout it is
/// given. A collector that accepts connections but never answers (a hung or starved dashboard) so held a service's stop for
/// 21 s, past the orchestrator's SIGKILL. This hosted service flushes the providers when the host stops and shuts them down
/// when it is disposed (before the container disposes the providers it was given, so their own disposal, finding them shut
/// down, waits no more), all within one budget. What the budget does not cover is dropped; an export still waiting then
/// holds only a thread-pool thread, which does not keep the process alive.
/// </summary>
internal sealed class TelemetryFlush : IHostedService, IDisposable
{
    /// <summary>How long stopping may spend delivering what the providers still hold, flush and shutdown together.</summary>
    public static readonly TimeSpan DeliveryBudget = TimeSpan.FromSeconds(2);

    private readonly (Func<int, bool> Flush, Func<int, bool> Shutdown)[] _signals;
    private long _stoppingSince;

    public TelemetryFlush(IEnumerable<TracerProvider> tracerProviders, IEnumerable<MeterProvider> meterProviders, IEnumerable<LoggerProvider> loggerProviders)
    {
        _signals =
        [
            .. tracerProviders.Select(provider => ((Func<int, bool>)provider.ForceFlush, (Func<int, bool>)provider.Shutdown)),
            .. meterProviders.Select(provider => ((Func<int, bool>)provider.ForceFlush, (Func<int, bool>)provider.Shutdown)),
            .. loggerProviders.Select(provider => ((Func<int, bool>)provider.ForceFlush, (Func<int, bool>)provider.Shutdown)),
        ];
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Task flushed = Task.WhenAll(_signals.Select(signal => Task.Run(() => signal.Flush(RemainingMilliseconds()), CancellationToken.None)));
        await Task.WhenAny(flushed, Task.Delay(Remaining(), CancellationToken.None)).ConfigureAwait(false);
    }

    public void Dispose()
    {
        // Each shutdown keeps to the time it is given (it cancels the export it waits for).
        foreach ((_, Func<int, bool> shutdown) in _signals)
        {
            shutdown(RemainingMilliseconds());
        }
    }

    /// <summary>What is left of the budget, counted from the first call (stopping, or disposal without a stop).</summary>
    private TimeSpan Remaining()
    {
        Interlocked.CompareExchange(ref _stoppingSince, Stopwatch.GetTimestamp(), 0);
        TimeSpan left = DeliveryBudget - Stopwatch.GetElapsedTime(Interlocked.Read(ref _stoppingSince));
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private int RemainingMilliseconds() => (int)Remaining().TotalMilliseconds;
}
