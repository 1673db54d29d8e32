using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Polly;

namespace Bazaar.ServiceDefaults.Resilience;

/// <summary>
/// Makes a client's retries and circuit changes visible: a log line each (so they reach the dashboard with the
/// request's trace) and the counter <c>bazaar.http.client.resilience.events</c> on the Meter "Bazaar.Resilience".
/// Polly.Extensions, which would report them, is absent from the package source.
/// </summary>
public sealed partial class ResilienceEvents(ILogger logger, string clientName)
{
    public const string MeterName = "Bazaar.Resilience";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Events = Meter.CreateCounter<long>(
        "bazaar.http.client.resilience.events", unit: "{event}", description: "Retries and circuit-breaker transitions of HttpClients.");

    /// <summary>The request being sent, so events can say which call they are about.</summary>
    public static readonly ResiliencePropertyKey<HttpRequestMessage> RequestKey = new("Bazaar.Resilience.Request");

    internal void OnRetry(ResilienceContext context, int attemptNumber, TimeSpan delay, Outcome<HttpResponseMessage> outcome)
    {
        Count("retry");
        (string method, string target) = Describe(context);
        LogRetry(logger, clientName, method, target, attemptNumber + 1, delay.TotalMilliseconds, Describe(outcome), outcome.Exception);
    }

    internal void OnOpened(TimeSpan breakDuration, Outcome<HttpResponseMessage> outcome)
    {
        Count("circuit_opened");
        LogOpened(logger, clientName, breakDuration.TotalMilliseconds, Describe(outcome), outcome.Exception);
    }

    internal void OnHalfOpened()
    {
        Count("circuit_half_opened");
        LogHalfOpened(logger, clientName);
    }

    internal void OnClosed()
    {
        Count("circuit_closed");
        LogClosed(logger, clientName);
    }

    private void Count(string kind) =>
        Events.Add(1, new TagList { { "http.client.name", clientName }, { "bazaar.resilience.event", kind } });

    private static (string Method, string Target) Describe(ResilienceContext context) =>
        context.Properties.TryGetValue(RequestKey, out HttpRequestMessage? request) && request.RequestUri is { } uri
            // Without the query string: it may carry values that have no place in a log.
            ? (request.Method.Method, uri.IsAbsoluteUri ? uri.GetLeftPart(UriPartial.Path) : uri.OriginalString)
            : ("?", "?");

    private static string Describe(Outcome<HttpResponseMessage> outcome) => outcome switch
    {
        { Result: { } response } => $"HTTP {(int)response.StatusCode}",
        { Exception: { } exception } => exception.GetType().Name,
        _ => "no outcome",
    };

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning,
        Message = "HttpClient {ClientName}: {Method} {Target} failed with {Outcome}; retry {RetryNumber} in {DelayMs} ms.")]
    private static partial void LogRetry(ILogger logger, string clientName, string method, string target, int retryNumber, double delayMs, string outcome, Exception? exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error,
        Message = "HttpClient {ClientName}: circuit opened for {BreakMs} ms after {Outcome}; calls fail fast until then.")]
    private static partial void LogOpened(ILogger logger, string clientName, double breakMs, string outcome, Exception? exception);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "HttpClient {ClientName}: circuit half-open; the next call tests the service.")]
    private static partial void LogHalfOpened(ILogger logger, string clientName);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "HttpClient {ClientName}: circuit closed; calls flow again.")]
    private static partial void LogClosed(ILogger logger, string clientName);
}
