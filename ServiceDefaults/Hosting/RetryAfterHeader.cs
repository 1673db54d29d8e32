using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Bazaar.ServiceDefaults.Hosting;

public static class RetryAfterHeader
{
    /// <summary>Sets Retry-After to <paramref name="wait"/> in whole seconds, rounded up and at least 1 (RFC 9110 §10.2.3).</summary>
    public static void SetRetryAfter(this HttpResponse response, TimeSpan wait)
    {
        ArgumentNullException.ThrowIfNull(response);
        response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
    }
}
