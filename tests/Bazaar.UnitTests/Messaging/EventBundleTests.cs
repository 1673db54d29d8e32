using System.Text;
using System.Text.Json;
using Bazaar.Messaging;

namespace Bazaar.UnitTests.Messaging;

public sealed class EventBundleTests
{
    [Fact]
    public void A_bundle_reads_back_every_envelope_in_order_with_its_own_trace_context()
    {
        var envelopes = Enumerable.Range(0, 3).Select(i => EventEnvelope.Create(new Added($"sku-{i}"))).ToArray();
        var entries = envelopes.Select((e, i) => new EventBundle.Entry(
            e.ToUtf8Bytes(), $"00-{i:D32}-{i + 1:D16}-01", i == 1 ? "vendor=x" : null)).ToArray();

        var read = EventBundle.Read(EventBundle.Write(entries));

        Assert.Equal(3, read.Count);
        for (var i = 0; i < 3; i++)
        {
            var envelope = EventEnvelope.FromUtf8Bytes(read[i].Envelope.Span);
            Assert.Equal(envelopes[i].Id, envelope.Id);
            Assert.Equal($"sku-{i}", envelope.GetPayload<Added>().Sku);
            Assert.Equal(entries[i].TraceParent, read[i].TraceParent);
            Assert.Equal(entries[i].TraceState, read[i].TraceState);
        }
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("{\"events\":[]}")]
    [InlineData("{\"events\":[{\"traceparent\":\"00-x\"}]}")]
    public void A_body_that_is_not_a_bundle_is_a_poison_message(string body) =>
        Assert.ThrowsAny<JsonException>(() => EventBundle.Read(Encoding.UTF8.GetBytes(body)));

    private sealed record Added(string Sku) : IIntegrationEvent
    {
        public static string EventType => "test.added";
    }
}
