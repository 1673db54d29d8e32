using System.Text.Json;

namespace Bazaar.Messaging;

/// <summary>
/// An event one service announces to the others. Implement it on a record and give it a stable, dotted type name;
/// the type is the routing key, so consumers bind to it (<c>order.placed</c>, <c>catalog.stock-reserved</c>).
/// </summary>
public interface IIntegrationEvent
{
    static abstract string EventType { get; }

    /// <summary>Bump when the payload changes incompatibly; consumers can branch on it.</summary>
    static virtual int SchemaVersion => 1;
}

/// <summary>The wire contract of every integration event: metadata plus the payload as JSON.</summary>
public sealed record EventEnvelope(
    Guid Id,
    string Type,
    DateTimeOffset OccurredAt,
    string? CorrelationId,
    int SchemaVersion,
    JsonElement Payload)
{
    public static EventEnvelope Create<TEvent>(TEvent payload, string? correlationId = null, TimeProvider? timeProvider = null)
        where TEvent : IIntegrationEvent
    {
        ArgumentNullException.ThrowIfNull(payload);
        return new EventEnvelope(
            Guid.CreateVersion7(),
            TEvent.EventType,
            (timeProvider ?? TimeProvider.System).GetUtcNow(),
            correlationId,
            TEvent.SchemaVersion,
            JsonSerializer.SerializeToElement(payload, EventJson.Options));
    }

    public TEvent GetPayload<TEvent>() =>
        Payload.Deserialize<TEvent>(EventJson.Options)
        ?? throw new JsonException($"Event {Id} of type {Type} has a null payload.");

    public byte[] ToUtf8Bytes() => JsonSerializer.SerializeToUtf8Bytes(this, EventJson.Options);

    /// <summary>Reads an envelope from a message body; throws <see cref="JsonException"/> when the body is not one (a poison message).</summary>
    public static EventEnvelope FromUtf8Bytes(ReadOnlySpan<byte> body)
    {
        var envelope = JsonSerializer.Deserialize<EventEnvelope>(body, EventJson.Options)
            ?? throw new JsonException("The message body is null.");
        if (envelope.Id == Guid.Empty || string.IsNullOrWhiteSpace(envelope.Type) || envelope.Payload.ValueKind == JsonValueKind.Undefined)
        {
            throw new JsonException("The message body is not an event envelope (id, type and payload are required).");
        }

        return envelope;
    }
}

/// <summary>The one JSON shape for events: camelCase, as the web APIs use.</summary>
public static class EventJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);
}
