using System.ComponentModel.DataAnnotations;
using Bazaar.Order.Api.Placement;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Bazaar.Worker.Saga;

/// <summary>When the saga gives way to placement, bound from <c>Saga:Yield</c>.</summary>
public sealed class SagaYieldOptions
{
    public const string SectionName = "Saga:Yield";

    /// <summary>
    /// The saga yields while order-api has placed at least this many orders in the current and the previous second
    /// together (<see cref="PlacementPace"/>). 0 (the default): it never yields.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int PeakPlacements { get; set; }

    /// <summary>How many saga steps may run at once while it yields (at least one, so orders always move on).</summary>
    [Range(1, 64)]
    public int StepsDuringPeak { get; set; } = 1;

    /// <summary>How often the pace is read.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>
/// Lets the saga give the CPU to placement during a promotion-day peak. The saga costs several times more CPU per order
/// than placing it (catalog calls, transactions, payment), so on a small machine a burst of orders and a saga running
/// flat out compete for the same cores and placement slows down. While the pace says "peak", a new saga step waits for
/// one of <see cref="SagaYieldOptions.StepsDuringPeak"/> turns; the backlog waits in the queue and the saga catches up
/// at full speed once the peak is over. Steps started before the peak finish as usual, and a lost or unreadable pace
/// counts as no peak, so the saga never stops because of this.
/// </summary>
public sealed partial class SagaYield : BackgroundService
{
    private readonly IServiceProvider _services;
    private readonly IOptions<SagaYieldOptions> _options;
    private readonly IOptions<PlacementPaceOptions> _pace;
    private readonly TimeProvider _time;
    private readonly ILogger<SagaYield> _logger;
    private readonly SemaphoreSlim _peakTurns;
    private volatile bool _yielding;

    public SagaYield(IServiceProvider services, IOptions<SagaYieldOptions> options, IOptions<PlacementPaceOptions> pace, TimeProvider time, ILogger<SagaYield> logger)
    {
        _services = services;
        _options = options;
        _pace = pace;
        _time = time;
        _logger = logger;
        _peakTurns = new SemaphoreSlim(options.Value.StepsDuringPeak, options.Value.StepsDuringPeak);
    }

    /// <summary>True while placement is at its peak and saga steps take turns.</summary>
    public bool IsYielding => _yielding;

    /// <summary>Returns at once outside a peak; during one, waits for a turn, which the caller gives back by disposing it.</summary>
    public async ValueTask<Turn> WaitTurnAsync(CancellationToken cancellationToken)
    {
        if (!_yielding)
        {
            return default;
        }

        await _peakTurns.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Turn(_peakTurns);
    }

    /// <summary>Takes in a fresh reading of the pace: orders placed in the current and the previous second.</summary>
    internal void Observe(long recentPlacements)
    {
        int peak = _options.Value.PeakPlacements;
        bool yielding = peak > 0 && recentPlacements >= peak;
        if (yielding != _yielding)
        {
            _yielding = yielding;
            if (yielding)
            {
                LogPeakStarted(_logger, recentPlacements, _options.Value.StepsDuringPeak);
            }
            else
            {
                LogPeakEnded(_logger, recentPlacements);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.Value.PeakPlacements == 0 || _services.GetService<IConnectionMultiplexer>() is not { } redis)
        {
            return;
        }

        using var timer = new PeriodicTimer(_options.Value.CheckInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                long recent;
                try
                {
                    // Bounded: StackExchange.Redis 1.2.6 never times out an async command, and a read Redis leaves
                    // unanswered must not freeze the yield in whatever state it was (10 s: a hang guard, not a budget).
                    recent = await PlacementPace.ReadRecentAsync(redis.GetDatabase(), _pace.Value.KeyPrefix, _time.GetUtcNow())
                        .WaitAsync(TimeSpan.FromSeconds(10), _time, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is RedisException or TimeoutException)
                {
                    recent = 0;
                }

                Observe(recent);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override void Dispose()
    {
        _peakTurns.Dispose();
        base.Dispose();
    }

    /// <summary>A turn taken during a peak (or none, outside one); disposing it gives the turn back.</summary>
    public readonly struct Turn(SemaphoreSlim? turns) : IDisposable
    {
        public void Dispose() => turns?.Release();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement peak ({Placements} orders in the last 1-2 s): the saga takes at most {Steps} step(s) at a time until it is over")]
    private static partial void LogPeakStarted(ILogger logger, long placements, int steps);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement peak over ({Placements} orders in the last 1-2 s): the saga runs at full speed")]
    private static partial void LogPeakEnded(ILogger logger, long placements);
}
