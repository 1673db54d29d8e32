using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Bazaar.Messaging;

/// <summary>
/// One message that carries several events of one type, in outbox order: the relay bundles consecutive rows of a type
/// (up to <see cref="MessagingOptions.MaxEventsPerMessage"/>), because the broker's work is per message, not per byte:
/// each persistent message costs RabbitMQ about 125 µs of CPU on this machine, a bundle of 64 about the same as one.
/// The consumer unbundles it into one delivery per event (each with its own envelope and trace context, retried and
/// dead-lettered on its own as a single message) and settles the message once every event in it is settled.
/// A lone event is sent as a plain message (the envelope as the body), as it always was.
/// Body: <c>{"events":[{"traceparent":"00-…","tracestate":"…","event":{envelope}}, …]}</c>.
/// </summary>
internal static class EventBundle
{
    public const string ContentType = "application/vnd.bazaar.event-bundle+json";

    /// <summary>One event of a bundle: its envelope as JSON, and the trace context its consumer continues.</summary>
    public sealed record Entry(ReadOnlyMemory<byte> Envelope, string? TraceParent, string? TraceState);

    public static byte[] Write(IReadOnlyList<Entry> entries)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + entries.Sum(e => e.Envelope.Length + 96));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("events"u8);
            foreach (var entry in entries)
            {
                writer.WriteStartObject();
                if (entry.TraceParent is not null)
                {
                    writer.WriteString("traceparent"u8, entry.TraceParent);
                }

                if (!string.IsNullOrEmpty(entry.TraceState))
                {
                    writer.WriteString("tracestate"u8, entry.TraceState);
                }

                writer.WritePropertyName("event"u8);
                writer.WriteRawValue(entry.Envelope.Span, skipInputValidation: true);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The events of a bundle; throws <see cref="JsonException"/> when the body is not one (a poison message).</summary>
    public static IReadOnlyList<Entry> Read(ReadOnlyMemory<byte> body)
    {
        using var document = JsonDocument.Parse(body);
        if (document.RootElement.ValueKind != JsonValueKind.Object
            || !document.RootElement.TryGetProperty("events"u8, out var events)
            || events.ValueKind != JsonValueKind.Array
            || events.GetArrayLength() == 0)
        {
            throw new JsonException("The message is marked as an event bundle but has no \"events\" array.");
        }

        var entries = new List<Entry>(events.GetArrayLength());
        foreach (var element in events.EnumerateArray())
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("event"u8, out var envelope))
            {
                throw new JsonException("An entry of the event bundle has no \"event\".");
            }

            entries.Add(new Entry(
                JsonMarshal.GetRawUtf8Value(envelope).ToArray(),
                element.TryGetProperty("traceparent"u8, out var parent) ? parent.GetString() : null,
                element.TryGetProperty("tracestate"u8, out var state) ? state.GetString() : null));
        }

        return entries;
    }
}
