using System.Diagnostics;

namespace Bazaar.IntegrationTests.Catalog;

/// <summary>Polls a condition until it holds or a deadline passes (tests never sleep a fixed time).</summary>
internal static class Eventually
{
    public static async Task<TimeSpan> HoldsAsync(Func<Task<bool>> condition, TimeSpan deadline, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                return clock.Elapsed;
            }

            if (clock.Elapsed > deadline)
            {
                throw new TimeoutException($"Not true within {deadline.TotalSeconds:0.#} s: {what}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }
}
