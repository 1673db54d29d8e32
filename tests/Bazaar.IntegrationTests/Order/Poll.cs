using System.Diagnostics;

namespace Bazaar.IntegrationTests.Order;

/// <summary>Waits for a condition by polling it until a deadline (tests never sleep a fixed time).</summary>
internal static class Poll
{
    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan deadline, string what) => UntilAsync(condition, deadline, () => what);

    /// <summary>As above; <paramref name="what"/> is asked only on failure, so it can describe what was last seen.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan deadline, Func<string> what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > deadline)
            {
                throw new TimeoutException($"Still not true after {deadline.TotalSeconds:0.#} s: {what()}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(25));
        }
    }
}
