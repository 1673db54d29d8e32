namespace Bazaar.Hosting;

/// <summary>How long to wait before restarting a process that crashed: doubling from the first delay, capped.</summary>
public static class RestartBackoff
{
    /// <param name="consecutiveCrashes">1 for the first crash in a row.</param>
    public static TimeSpan Delay(int consecutiveCrashes, TimeSpan first, TimeSpan cap)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(consecutiveCrashes, 1);
        // Past 2^20 the doubling only overflows; the cap has long been reached.
        double factor = Math.Pow(2, Math.Min(consecutiveCrashes - 1, 20));
        TimeSpan delay = TimeSpan.FromTicks((long)Math.Min(first.Ticks * factor, cap.Ticks));
        return delay;
    }
}
