namespace Bazaar.UnitTests.ServiceDefaults;

/// <summary>A clock that moves only when a test says so; timers fire as Advance passes their due time.</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private readonly Lock gate = new();
    private readonly List<ManualTimer> timers = [];
    private DateTimeOffset now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow()
    {
        lock (gate)
        {
            return now;
        }
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    /// <summary>How long from now each waiting timer is due (a retry delay, a timeout...).</summary>
    public IReadOnlyList<TimeSpan> PendingTimers
    {
        get
        {
            lock (gate)
            {
                return [.. timers.Select(t => t.Due - now)];
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    public void Advance(TimeSpan by)
    {
        DateTimeOffset target;
        lock (gate)
        {
            target = now + by;
        }

        while (true)
        {
            ManualTimer? due;
            lock (gate)
            {
                due = timers.Where(t => t.Due <= target).MinBy(t => t.Due);
                if (due is null)
                {
                    now = target;
                    return;
                }

                now = due.Due;
                timers.Remove(due);
                if (due.Period > TimeSpan.Zero && due.Period != Timeout.InfiniteTimeSpan)
                {
                    due.Due += due.Period;
                    timers.Add(due);
                }
            }

            due.Fire();
        }
    }

    private sealed class ManualTimer(ManualTimeProvider clock, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset Due { get; set; }

        public TimeSpan Period { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock.gate)
            {
                clock.timers.Remove(this);
                Period = period;
                if (dueTime != Timeout.InfiniteTimeSpan)
                {
                    Due = clock.now + dueTime;
                    clock.timers.Add(this);
                }
            }

            return true;
        }

        public void Dispose()
        {
            lock (clock.gate)
            {
                clock.timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
