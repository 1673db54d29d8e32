using System.Diagnostics;
using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;

namespace Bazaar.IntegrationTests.Messaging;

public sealed class RetryAndDeadLetterTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_handler_that_throws_twice_then_succeeds_is_retried_with_the_configured_delays_and_its_effect_happens_once()
    {
        await using var scenario = await MessagingScenario.CreateAsync("retry");
        var probe = new HandlerProbe { ShouldFail = (_, context) => context.Attempt < 2 };
        var host = await scenario.StartHostAsync(m => m.AddOutbox().AddConsumer<ItemAdded, RecordingHandler>(), probe: probe);

        var envelope = await scenario.CommitStateChangeAsync(host.Services.GetRequiredService<IOutbox>(), "sku-1");

        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() == 1, Timeout, "the effect is committed");
        var calls = probe.Calls.Where(c => c.EventId == envelope.Id).OrderBy(c => c.Attempt).ToArray();
        Assert.Equal([0, 1, 2], calls.Select(c => c.Attempt));
        // Configured delays are 200 ms then 400 ms; allow the broker's TTL timer a little early slack.
        Assert.InRange(Stopwatch.GetElapsedTime(calls[0].Timestamp, calls[1].Timestamp), TimeSpan.FromMilliseconds(180), TimeSpan.FromSeconds(5));
        Assert.InRange(Stopwatch.GetElapsedTime(calls[1].Timestamp, calls[2].Timestamp), TimeSpan.FromMilliseconds(370), TimeSpan.FromSeconds(5));
        Assert.Equal(1, await scenario.CountEffectsAsync());
    }

    [Fact]
    public async Task A_handler_that_always_throws_ends_in_the_dead_letter_queue_with_the_reason_and_requeueing_after_a_fix_processes_it_once()
    {
        await using var scenario = await MessagingScenario.CreateAsync("dlq");
        var broken = true;
        var probe = new HandlerProbe { ShouldFail = (_, _) => Volatile.Read(ref broken) };
        var host = await scenario.StartHostAsync(m => m.AddOutbox().AddConsumer<ItemAdded, RecordingHandler>(), probe: probe);
        var store = host.Services.GetRequiredService<DeadLetterStore>();

        EventEnvelope envelope;
        ActivityTraceId traceId;
        using (var request = new Activity("POST /api/items").Start())
        {
            traceId = request.TraceId;
            envelope = await scenario.CommitStateChangeAsync(host.Services.GetRequiredService<IOutbox>(), "sku-broken");
        }

        IReadOnlyList<DeadLetter> letters = [];
        await Eventually.HoldsAsync(async () => (letters = (await store.ListAsync("consumer", 10, default))!).Count == 1, Timeout, "the message is dead-lettered");
        var letter = Assert.Single(letters);
        Assert.Equal(envelope.Id.ToString(), letter.MessageId);
        Assert.Equal(ItemAdded.EventType, letter.EventType);
        Assert.Contains("Handler failed 4 time(s)", letter.Reason);
        Assert.Contains("Handler told to fail on attempt 3", letter.Reason);
        Assert.Contains(traceId.ToHexString(), letter.Headers[MessageHeaders.TraceParent]);
        Assert.Equal("InvalidOperationException: Handler told to fail on attempt 2", letter.Headers[MessageHeaders.LastError]);
        Assert.Equal(4, probe.Calls.Count(c => c.EventId == envelope.Id));
        Assert.Equal(0, await scenario.CountEffectsAsync());

        Volatile.Write(ref broken, false);
        Assert.Equal(1, await store.RequeueAsync("consumer", [envelope.Id.ToString()], default));

        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() == 1, Timeout, "the re-queued message is handled");
        Assert.Empty((await store.ListAsync("consumer", 10, default))!);
        Assert.Equal(1, await scenario.CountEffectsAsync());
    }

    [Fact]
    public async Task Transient_infrastructure_failures_keep_the_message_waiting_without_spending_its_retry_budget()
    {
        await using var scenario = await MessagingScenario.CreateAsync("transient");
        var calls = 0;
        var host = await scenario.StartHostAsync(m => m.AddOutbox().AddConsumer<ItemAdded, RecordingHandler>(), probe: new HandlerProbe
        {
            // Ten lost connections: more than the data source's own retries times the three retry delays.
            BeforeWrite = _ => Interlocked.Increment(ref calls) <= 10 ? throw new IOException("connection reset by peer") : Task.CompletedTask,
        });
        var store = host.Services.GetRequiredService<DeadLetterStore>();

        await scenario.CommitStateChangeAsync(host.Services.GetRequiredService<IOutbox>(), "sku-flaky");

        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() == 1, Timeout, "the event is handled once the failures stop");
        Assert.Empty((await store.ListAsync("consumer", 10, default))!);
        Assert.Equal(11, calls);
    }

    [Fact]
    public async Task A_message_that_is_not_an_event_goes_straight_to_the_dead_letter_queue()
    {
        await using var scenario = await MessagingScenario.CreateAsync("poison");
        var probe = new HandlerProbe();
        var host = await scenario.StartHostAsync(m => m.AddConsumer<ItemAdded, RecordingHandler>(), probe: probe);
        var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<MessagingOptions>>().Value;

        await using (var publisher = new ConfirmingPublisher(host.Services.GetRequiredService<RabbitMQConnectionProvider>(), options.ExchangeName))
        {
            var properties = new RabbitMQ.Client.BasicProperties { MessageId = "poison-1", Headers = new Dictionary<string, object?> { ["x-custom"] = "kept" } };
            await publisher.PublishAsync(options.ExchangeName, ItemAdded.EventType, properties, "{not json"u8.ToArray(), default);
        }

        var store = host.Services.GetRequiredService<DeadLetterStore>();
        IReadOnlyList<DeadLetter> letters = [];
        await Eventually.HoldsAsync(async () => (letters = (await store.ListAsync("consumer", 10, default))!).Count == 1, Timeout, "the poison message is dead-lettered");
        var letter = Assert.Single(letters);
        Assert.StartsWith("Poison message", letter.Reason);
        Assert.Equal("kept", letter.Headers["x-custom"]);
        Assert.Equal(0, letter.Attempts);
        Assert.Empty(probe.Calls);
    }
}
