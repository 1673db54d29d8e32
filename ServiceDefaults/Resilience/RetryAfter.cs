using System.Net.Http.Headers;

namespace Bazaar.ServiceDefaults.Resilience;

internal static class RetryAfter
{
    /// <summary>Reads Retry-After as either delta-seconds or an HTTP date (RFC 9110 §10.2.3).</summary>
    public static bool TryGetDelay(HttpResponseMessage response, TimeProvider timeProvider, out TimeSpan delay)
    {
        RetryConditionHeaderValue? header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            delay = delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
            return true;
        }

        if (header?.Date is { } date)
        {
            TimeSpan untilDate = date - timeProvider.GetUtcNow();
            delay = untilDate < TimeSpan.Zero ? TimeSpan.Zero : untilDate;
            return true;
        }

        delay = default;
        return false;
    }
}
