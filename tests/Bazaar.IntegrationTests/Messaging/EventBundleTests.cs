using Bazaar.Data;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Bazaar.IntegrationTests.Messaging;

/// <summary>
/// Events the relay sends in one message (EventBundle) are handled as if each had come alone: its own trace, its own
/// retries and dead letter, its own deduplication; the message is acknowledged once every event in it is settled.
/// </summary>
public sealed class EventBundleTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Events_relayed_in_one_message_each_continue_their_own_trace_and_one_that_always_fails_is_dead_lettered_alone()
    {
        var stopped = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name.StartsWith("Bazaar.", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var testSource = new ActivitySource("Bazaar.Tests.Bundles");

        await using var scenario = await MessagingScenario.CreateAsync("bundle");
        var probe = new HandlerProbe { ShouldFail = (e, _) => e.Sku == "sku-bad" };
        var host = await scenario.StartHostAsync(m => m.AddConsumer<ItemAdded, RecordingHandler>(), probe: probe);
        var options = host.Services.GetRequiredService<IOptions<MessagingOptions>>();
        using var consumed = new CounterProbe("bazaar.messaging.consumed", options.Value.QueueName);
        await using var messages = await RawMessages.BindAsync(host, options.Value);

        // Ten events, each committed in a request of its own trace, then relayed in one batch.
        var outbox = new Outbox(new OutboxSignal(), TimeProvider.System);
        var traces = new Dictionary<Guid, ActivityTraceId>();
        for (var i = 0; i < 10; i++)
        {
            using var request = testSource.StartActivity($"POST /api/items/{i}", ActivityKind.Server)!;
            var envelope = await scenario.DataSource.InTransactionAsync((_, transaction, token) =>
                outbox.AddAsync(transaction, new ItemAdded(i == 5 ? "sku-bad" : $"sku-{i}"), cancellationToken: token));
            traces[envelope.Id] = request.TraceId;
        }

        await using (var relay = IdempotencyTests.CreateRelay(scenario, host, options))
        {
            Assert.Equal(10, await relay.Relay.RelayBatchAsync(default));
        }

        await Eventually.HoldsAsync(() => Task.FromResult(messages.ContentTypes.Count == 1), Timeout, "the broker routed the batch");
        Assert.Equal([EventBundle.ContentType], messages.ContentTypes);

        var store = host.Services.GetRequiredService<DeadLetterStore>();
        IReadOnlyList<DeadLetter> letters = [];
        await Eventually.HoldsAsync(async () => (letters = (await store.ListAsync("consumer", 10, default))!).Count == 1, Timeout, "the failing event is dead-lettered");
        var letter = Assert.Single(letters);
        var bad = traces.Keys.ElementAt(5);
        Assert.Equal(bad.ToString(), letter.MessageId);
        Assert.Contains("Handler failed 4 time(s)", letter.Reason);
        Assert.Contains(traces[bad].ToHexString(), letter.Headers[MessageHeaders.TraceParent]);
        // Four attempts. The first may run twice: in a consumer batch with some of the others, which the failure rolls
        // back, and then alone; how the ten events fall into batches depends on timing.
        Assert.Equal([0, 1, 2, 3], probe.Calls.Where(c => c.EventId == bad).Select(c => c.Attempt).Distinct().Order());
        Assert.InRange(probe.Calls.Count(c => c.EventId == bad), 4, 5);

        await Eventually.HoldsAsync(() => Task.FromResult(consumed.Total == 9), Timeout, "the nine others are acknowledged");
        Assert.Equal(9, await scenario.CountDistinctEffectsAsync());
        Assert.Equal(9, await scenario.CountEffectsAsync());
        foreach (var (eventId, traceId) in traces)
        {
            Assert.All(probe.Calls.Where(c => c.EventId == eventId), call => Assert.Equal(traceId, call.TraceId));
        }

        // Settled: once the consumer is gone, nothing comes back to the queue (an unacknowledged message would).
        await host.StopAsync();
        Assert.Equal(0u, await messages.QueueLengthAsync(options.Value.QueueName));
        Assert.Equal(0, consumed.Duplicates);
    }

    [Fact]
    public async Task An_event_in_a_bundle_that_cannot_be_read_is_dead_lettered_alone_and_the_others_are_handled_once()
    {
        await using var scenario = await MessagingScenario.CreateAsync("bundlepoison");
        var host = await scenario.StartHostAsync(m => m.AddConsumer<ItemAdded, RecordingHandler>());
        var options = host.Services.GetRequiredService<IOptions<MessagingOptions>>().Value;
        using var consumed = new CounterProbe("bazaar.messaging.consumed", options.QueueName);

        var good = Enumerable.Range(0, 2).Select(i => EventEnvelope.Create(new ItemAdded($"sku-{i}"))).ToArray();
        var body = EventBundle.Write([
            new EventBundle.Entry(good[0].ToUtf8Bytes(), null, null),
            new EventBundle.Entry(Encoding.UTF8.GetBytes("""{"not":"an envelope"}"""), null, null),
            new EventBundle.Entry(good[1].ToUtf8Bytes(), null, null)]);
        await using (var publisher = new ConfirmingPublisher(host.Services.GetRequiredService<RabbitMQConnectionProvider>(), options.ExchangeName))
        {
            var properties = new BasicProperties { MessageId = good[0].Id.ToString(), Type = ItemAdded.EventType, ContentType = EventBundle.ContentType, Persistent = true };
            await publisher.PublishAsync(options.ExchangeName, ItemAdded.EventType, properties, body, default);
        }

        var store = host.Services.GetRequiredService<DeadLetterStore>();
        IReadOnlyList<DeadLetter> letters = [];
        await Eventually.HoldsAsync(async () => (letters = (await store.ListAsync("consumer", 10, default))!).Count == 1, Timeout, "the unreadable event is dead-lettered");
        Assert.Contains("Poison message", Assert.Single(letters).Reason);
        await Eventually.HoldsAsync(() => Task.FromResult(consumed.Total == 2), Timeout, "the two readable events are acknowledged");
        Assert.Equal(2, await scenario.CountDistinctEffectsAsync());

        await using var messages = await RawMessages.BindAsync(host, options);
        await host.StopAsync();
        Assert.Equal(0u, await messages.QueueLengthAsync(options.QueueName));
        Assert.Equal(2, await scenario.CountEffectsAsync());
    }

    /// <summary>A plain queue on every event type, recording the content type of each message the broker routes.</summary>
    private sealed class RawMessages : IAsyncDisposable
    {
        private readonly IChannel _channel;

        private RawMessages(IChannel channel) => _channel = channel;

        public ConcurrentQueue<string?> ContentTypes { get; } = new();

        public static async Task<RawMessages> BindAsync(IHost host, MessagingOptions options)
        {
            var connection = await host.Services.GetRequiredService<RabbitMQConnectionProvider>().GetConnectionAsync(default);
            var raw = new RawMessages(await connection.CreateChannelAsync());
            var queue = (await raw._channel.QueueDeclareAsync(exclusive: true)).QueueName;
            await raw._channel.QueueBindAsync(queue, options.ExchangeName, "#");
            var consumer = new AsyncEventingBasicConsumer(raw._channel);
            consumer.ReceivedAsync += (_, delivery) =>
            {
                raw.ContentTypes.Enqueue(delivery.BasicProperties.ContentType);
                return Task.CompletedTask;
            };
            await raw._channel.BasicConsumeAsync(queue, autoAck: true, consumer);
            return raw;
        }

        public async Task<uint> QueueLengthAsync(string queue) => (await _channel.QueueDeclarePassiveAsync(queue)).MessageCount;

        public async ValueTask DisposeAsync() => await _channel.DisposeAsync();
    }
}
