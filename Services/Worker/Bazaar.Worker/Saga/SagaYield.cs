using System.ComponentModel.DataAnnotations;
using Bazaar.Messaging;
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

    /// <summary>
    /// During a peak the saga handles its messages one transaction at a time, of at most this many messages, and pauses
    /// <see cref="TurnInterval"/> after each: at most 4 messages a second with the defaults, so orders always move on.
    /// Outside a peak it is also the size of the saga's first transaction after it was idle, the start of its ramp
    /// (see <see cref="SagaYield"/>).
    /// </summary>
    [Range(1, 1000)]
    public int MessagesPerTurn { get; set; } = 1;

    /// <summary>
    /// After an idle spell the saga runs one transaction at a time for at most this long (less if one takes fewer messages
    /// than it was allowed): long enough for a peak to be seen, short enough that slow transactions (a flash sale's
    /// reservations contend for one row) do not keep a backlog in single file.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan OneAtATimeFor { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The pause after each turn during a peak.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan TurnInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How often the pace is read (one Redis read of two keys).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromMilliseconds(50);
}

/// <summary>
/// Lets the saga give the CPU to placement during a promotion-day peak. The saga costs several times more CPU per order
/// than placing it (catalog calls, transactions, payment), so on a small machine a burst of orders and a saga running
/// flat out compete for the same cores and placement slows down. While the pace says "peak", the worker's consumer
/// (<see cref="IConsumerThrottle"/>) runs one transaction at a time of at most <see cref="SagaYieldOptions.MessagesPerTurn"/>
/// messages and pauses <see cref="SagaYieldOptions.TurnInterval"/> after each; the backlog waits in the queue, no
/// transaction is open while it waits, and the saga catches up at full speed once the peak is over. Transactions begun
/// before the peak finish as usual, and a lost or unreadable pace counts as no peak, so the saga never stops because of this.
/// <para>
/// A peak is seen only some time after it starts (the pace is counted per second and read every
/// <see cref="SagaYieldOptions.CheckInterval"/>), and by then the relay has handed the worker hundreds of orders. So the
/// saga also starts slowly, as TCP does: after it was idle (the last transaction to end took fewer messages than it was
/// allowed, and none is running or waiting) it runs one transaction at a time, the first of at most
/// <see cref="SagaYieldOptions.MessagesPerTurn"/> messages, each next one allowed twice as many as the last if that took
/// all it was allowed. The first transaction to take fewer (the queue ran dry, or the consumer's batch size bounds it), or
/// <see cref="SagaYieldOptions.OneAtATimeFor"/> passing, ends the one-at-a-time: from then on transactions run side by
/// side, each allowed the ramp's limit, which still doubles with every transaction that reaches it. A backlog is taken
/// in whole batches after a handful of transactions, while the first few hundred milliseconds of a peak cost a few
/// small transactions one after another instead of the consumer's full concurrency: with eight side by side from the
/// start, the saga took 52 orders (eight transactions of one, then eight of 2-10) in the peak's first 440 ms, and
/// catalog-api, the worker and MariaDB took most of both cores for its first second, when placement ran at half its
/// speed (session 19).
/// </para>
/// </summary>
public sealed partial class SagaYield : BackgroundService, IConsumerThrottle
{
    private readonly IServiceProvider _services;
    private readonly IOptions<SagaYieldOptions> _options;
    private readonly IOptions<PlacementPaceOptions> _pace;
    private readonly TimeProvider _time;
    private readonly ILogger<SagaYield> _logger;
    private readonly SemaphoreSlim _peakTurn = new(1, 1);
    private readonly PeakTurns _peakTurns;
    private readonly RampTurns _rampTurns;
    private readonly Lock _rampLock = new();
    private DateTimeOffset _nextTurnAt;
    private volatile bool _yielding;

    // The ramp, under _rampLock.
    private int _rampTurnsOut;
    private int _rampLimit;
    private bool _rampOneAtATime;
    private long _rampStartedAt;
    private bool _rampIdle = true;
    private int _rampWaiting;
    private TaskCompletionSource? _rampTurnEnded;

    public SagaYield(IServiceProvider services, IOptions<SagaYieldOptions> options, IOptions<PlacementPaceOptions> pace, TimeProvider time, ILogger<SagaYield> logger)
    {
        _services = services;
        _options = options;
        _pace = pace;
        _time = time;
        _logger = logger;
        _peakTurns = new PeakTurns(this);
        _rampTurns = new RampTurns(this);
    }

    /// <summary>True while placement is at its peak and the saga takes turns.</summary>
    public bool IsYielding => _yielding;

    /// <summary>
    /// Outside a peak, the ramp's turn: at once with its limit, or, while it runs one transaction at a time, when the
    /// transaction out has ended (unlimited at once when the saga never yields). During a peak, waits until no other turn
    /// is out and the pause after the last one is over, then allows <see cref="SagaYieldOptions.MessagesPerTurn"/>
    /// messages; ending the turn starts the next pause.
    /// </summary>
    public async ValueTask<ConsumerTurn> WaitTurnAsync(CancellationToken cancellationToken)
    {
        if (_options.Value.PeakPlacements == 0)
        {
            return ConsumerTurn.Unlimited;
        }

        if (!_yielding && await RampTurnAsync(cancellationToken).ConfigureAwait(false) is { } rampTurn)
        {
            return rampTurn;
        }

        await _peakTurn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            TimeSpan pause = _nextTurnAt - _time.GetUtcNow();
            if (pause > TimeSpan.Zero && _yielding)
            {
                await Task.Delay(pause, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            _peakTurn.Release();
            throw;
        }

        return new ConsumerTurn(_options.Value.MessagesPerTurn, _peakTurns);
    }

    /// <summary>The ramp's turn, or null if a peak started while it waited.</summary>
    private async ValueTask<ConsumerTurn?> RampTurnAsync(CancellationToken cancellationToken)
    {
        bool waiting = false;
        try
        {
            while (!_yielding)
            {
                Task turnEnded;
                TimeSpan alone;
                lock (_rampLock)
                {
                    if (waiting)
                    {
                        waiting = false;
                        _rampWaiting--;
                    }

                    if (_rampIdle && _rampTurnsOut == 0)
                    {
                        // The saga was idle, and what arrives now may be the start of a peak.
                        _rampIdle = false;
                        _rampOneAtATime = true;
                        _rampStartedAt = _time.GetTimestamp();
                        _rampLimit = _options.Value.MessagesPerTurn;
                    }

                    alone = _options.Value.OneAtATimeFor - _time.GetElapsedTime(_rampStartedAt);
                    if (alone <= TimeSpan.Zero)
                    {
                        _rampOneAtATime = false;
                    }

                    if (!_rampOneAtATime || _rampTurnsOut == 0)
                    {
                        _rampTurnsOut++;
                        return new ConsumerTurn(_rampLimit, _rampTurns);
                    }

                    waiting = true;
                    _rampWaiting++;
                    turnEnded = (_rampTurnEnded ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                }

                try
                {
                    await turnEnded.WaitAsync(alone, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // One at a time long enough: the next round lets every waiting turn go.
                }
            }

            return null;
        }
        finally
        {
            if (waiting)
            {
                lock (_rampLock)
                {
                    _rampWaiting--;
                }
            }
        }
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
                // The saga ramps up again after the peak; turns waiting for the ramp take their peak turns instead.
                TaskCompletionSource? waiting;
                lock (_rampLock)
                {
                    _rampIdle = true;
                    waiting = _rampTurnEnded;
                    _rampTurnEnded = null;
                }

                waiting?.TrySetResult();
                LogPeakStarted(_logger, recentPlacements, _options.Value.MessagesPerTurn, _options.Value.TurnInterval.TotalMilliseconds);
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
        finally
        {
            // No pace is read any more (the host is stopping): as with an unreadable pace, no peak, so the consumer
            // finishes what it holds at full speed instead of in turns.
            _yielding = false;
        }
    }

    public override void Dispose()
    {
        _peakTurn.Dispose();
        base.Dispose();
    }

    /// <summary>Ends a turn taken during a peak: the next may start once <see cref="SagaYieldOptions.TurnInterval"/> has passed.</summary>
    private sealed class PeakTurns(SagaYield owner) : IConsumerTurnOwner
    {
        public void TurnEnded(int maxMessages, int messages)
        {
            owner._nextTurnAt = owner._time.GetUtcNow() + owner._options.Value.TurnInterval;
            owner._peakTurn.Release();
        }
    }

    /// <summary>
    /// Ends a turn taken outside a peak: one that took all it was allowed doubles the ramp's limit; one that took fewer
    /// ends the one-at-a-time, and, if no other is out or waiting, leaves the saga idle.
    /// </summary>
    private sealed class RampTurns(SagaYield owner) : IConsumerTurnOwner
    {
        public void TurnEnded(int maxMessages, int messages)
        {
            TaskCompletionSource? waiting;
            lock (owner._rampLock)
            {
                owner._rampTurnsOut--;
                if (messages >= maxMessages)
                {
                    // Past the consumer's batch size no transaction reaches the limit any more, so it stops growing there.
                    owner._rampLimit = maxMessages > int.MaxValue / 2 ? int.MaxValue : Math.Max(owner._rampLimit, maxMessages * 2);
                }
                else
                {
                    // Idle only if no other turn is out nor waiting (the waiting hold deliveries).
                    owner._rampOneAtATime = false;
                    owner._rampIdle = owner._rampTurnsOut == 0 && owner._rampWaiting == 0;
                }

                waiting = owner._rampTurnEnded;
                owner._rampTurnEnded = null;
            }

            waiting?.TrySetResult();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement peak ({Placements} orders in the last 1-2 s): the saga takes turns of at most {Messages} message(s), {Pause} ms apart, until it is over")]
    private static partial void LogPeakStarted(ILogger logger, long placements, int messages, double pause);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement peak over ({Placements} orders in the last 1-2 s): the saga runs at full speed")]
    private static partial void LogPeakEnded(ILogger logger, long placements);
}
