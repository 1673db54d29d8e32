using System.Text;
using System.Text.Json;
using Bazaar.Messaging;

namespace Bazaar.UnitTests.Messaging;

public sealed class EventEnvelopeTests
{
    private sealed record OrderPlaced(Guid OrderId, decimal Total) : IIntegrationEvent
    {
        public static string EventType => "order.placed";

        public static int SchemaVersion => 2;
    }

    [Fact]
    public void An_envelope_carries_the_type_schema_version_correlation_and_payload_of_its_event()
    {
        var orderId = Guid.NewGuid();
        var envelope = EventEnvelope.Create(new OrderPlaced(orderId, 12.5m), correlationId: "order-42");

        Assert.NotEqual(Guid.Empty, envelope.Id);
        Assert.Equal("order.placed", envelope.Type);
        Assert.Equal(2, envelope.SchemaVersion);
        Assert.Equal("order-42", envelope.CorrelationId);
        Assert.Equal(new OrderPlaced(orderId, 12.5m), envelope.GetPayload<OrderPlaced>());
    }

    [Fact]
    public void An_envelope_survives_the_wire_in_camel_case()
    {
        var envelope = EventEnvelope.Create(new OrderPlaced(Guid.NewGuid(), 3m));
        var bytes = envelope.ToUtf8Bytes();

        var read = EventEnvelope.FromUtf8Bytes(bytes);

        Assert.Contains("\"occurredAt\"", Encoding.UTF8.GetString(bytes));
        Assert.Equal(envelope.Id, read.Id);
        Assert.Equal(envelope.OccurredAt, read.OccurredAt);
        Assert.Equal(envelope.GetPayload<OrderPlaced>(), read.GetPayload<OrderPlaced>());
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("null")]
    [InlineData("{\"id\":\"00000000-0000-0000-0000-000000000000\",\"type\":\"x\",\"payload\":{}}")]
    [InlineData("{\"id\":\"0195e0c4-7d4e-7cc1-9a4c-8d1f1b1b1b1b\",\"payload\":{}}")]
    public void A_body_that_is_not_an_envelope_is_refused_as_poison(string body) =>
        Assert.ThrowsAny<JsonException>(() => EventEnvelope.FromUtf8Bytes(Encoding.UTF8.GetBytes(body)));
}
