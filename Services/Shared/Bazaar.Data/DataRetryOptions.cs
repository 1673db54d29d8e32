namespace Bazaar.Data;

/// <summary>How transient failures (deadlock, lock wait timeout, lost connection) are retried.</summary>
public sealed class DataRetryOptions
{
    public int MaxRetryAttempts { get; set; } = 3;

    /// <summary>First delay; later ones grow exponentially, with jitter so colliding transactions spread apart.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(50);
}
