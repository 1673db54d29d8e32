namespace Bazaar.Data;

/// <summary>How transient failures (deadlock, lost connection, a refused connect) are retried. Timeouts are not retried.</summary>
public sealed class DataRetryOptions
{
    public int MaxRetryAttempts { get; set; } = 3;

    /// <summary>First delay; later ones grow exponentially, with jitter so colliding transactions spread apart.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(50);
}
