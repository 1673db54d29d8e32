using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Bazaar.Messaging;

/// <summary>Header names Bazaar puts on messages, and reading them back (AMQP hands strings back as bytes).</summary>
public static class MessageHeaders
{
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";

    /// <summary>How many times handling has failed so far (absent on a first delivery).</summary>
    public const string Attempt = "x-bazaar-attempt";
    public const string LastError = "x-bazaar-last-error";
    public const string DeadLetterReason = "x-bazaar-dead-letter-reason";
    public const string DeadLetteredAt = "x-bazaar-dead-lettered-at";
    public const string OriginalQueue = "x-bazaar-original-queue";
    public const string RequeuedAt = "x-bazaar-requeued-at";

    public static string? GetString(IDictionary<string, object?>? headers, string name) =>
        headers is not null && headers.TryGetValue(name, out var value) ? AsString(value) : null;

    public static int GetInt(IDictionary<string, object?>? headers, string name) =>
        int.TryParse(GetString(headers, name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) ? number : 0;

    public static string? AsString(object? value) => value switch
    {
        null => null,
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    /// <summary>A copy of the headers that can be changed and published again.</summary>
    internal static Dictionary<string, object?> Copy(IDictionary<string, object?>? headers) =>
        headers is null ? new Dictionary<string, object?>(StringComparer.Ordinal) : new Dictionary<string, object?>(headers, StringComparer.Ordinal);

    /// <summary>
    /// Makes the message's own trace current for its publish when the current activity is of another trace (none is, or
    /// the message's span was not sampled). The RabbitMQ client, whose spans Aspire's integration records, starts its
    /// publish span as a child of the current activity and writes that span into traceparent: it would otherwise start a
    /// trace of its own and overwrite the message's. The activity is known to no listener; dispose it after the publish.
    /// </summary>
    internal static Activity? ContinueTrace(IDictionary<string, object?>? headers)
    {
        if (!ActivityContext.TryParse(GetString(headers, TraceParent), GetString(headers, TraceState), out var context)
            || Activity.Current?.TraceId == context.TraceId)
        {
            return null;
        }

        var carrier = new Activity("Bazaar.Messaging.Publish");
        carrier.SetParentId(context.TraceId, context.SpanId, context.TraceFlags);
        carrier.TraceStateString = context.TraceState;
        return carrier.Start();
    }

    /// <summary>The trace context a consumer continues: the span's, or without one the fallback (the row's own).</summary>
    internal static (string? TraceParent, string? TraceState) TraceContext(Activity? activity, string? fallbackTraceParent, string? fallbackTraceState) =>
        (activity?.Id ?? fallbackTraceParent, activity is null ? fallbackTraceState : activity.TraceStateString);

    internal static void Inject(Dictionary<string, object?> headers, Activity? activity, string? fallbackTraceParent, string? fallbackTraceState)
    {
        var (traceParent, traceState) = TraceContext(activity, fallbackTraceParent, fallbackTraceState);
        if (traceParent is not null)
        {
            headers[TraceParent] = traceParent;
        }

        if (!string.IsNullOrEmpty(traceState))
        {
            headers[TraceState] = traceState;
        }
    }

    internal static ActivityContext ExtractParent(IDictionary<string, object?>? headers) =>
        ActivityContext.TryParse(GetString(headers, TraceParent), GetString(headers, TraceState), out var context) ? context : default;
}
