using Bazaar.Data;
using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Bazaar.IntegrationTests.Messaging;

public sealed class IdempotencyTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_same_event_delivered_three_times_changes_the_database_once()
    {
        await using var scenario = await MessagingScenario.CreateAsync("dup");
        var probe = new HandlerProbe();
        var host = await scenario.StartHostAsync(m => m.AddConsumer<ItemAdded, RecordingHandler>(), o => o.MaxConcurrency = 1, probe);
        var options = host.Services.GetRequiredService<IOptions<MessagingOptions>>().Value;
        using var consumed = new CounterProbe("bazaar.messaging.consumed", options.QueueName);

        var envelope = EventEnvelope.Create(new ItemAdded("sku-dup"));
        await using (var publisher = new ConfirmingPublisher(host.Services.GetRequiredService<RabbitMQConnectionProvider>(), options.ExchangeName))
        {
            for (var i = 0; i < 3; i++)
            {
                var properties = new RabbitMQ.Client.BasicProperties { MessageId = envelope.Id.ToString(), Type = envelope.Type, Persistent = true };
                await publisher.PublishAsync(options.ExchangeName, envelope.Type, properties, envelope.ToUtf8Bytes(), default);
            }
        }

        await Eventually.HoldsAsync(() => Task.FromResult(consumed.Total == 3), Timeout, "all three deliveries are acknowledged");
        Assert.Equal(2, consumed.Duplicates);
        Assert.Equal(1, await scenario.CountEffectsAsync());
        Assert.Single(probe.Calls);
    }

    [Fact]
    public async Task A_relay_killed_between_publish_and_mark_as_sent_publishes_again_and_the_effect_still_happens_once()
    {
        await using var scenario = await MessagingScenario.CreateAsync("crash");
        var host = await scenario.StartHostAsync(m => m.AddConsumer<ItemAdded, RecordingHandler>());
        var options = host.Services.GetRequiredService<IOptions<MessagingOptions>>();
        using var consumed = new CounterProbe("bazaar.messaging.consumed", options.Value.QueueName);
        var outbox = new Outbox(new OutboxSignal(), TimeProvider.System);
        for (var i = 0; i < 20; i++)
        {
            await scenario.CommitStateChangeAsync(outbox, $"sku-{i}");
        }

        await using (var doomed = CreateRelay(scenario, host, options))
        {
            doomed.Relay.AfterPublishBeforeMark = (_, _) => throw new RelayCrashedException();
            await Assert.ThrowsAsync<RelayCrashedException>(() => doomed.Relay.RelayBatchAsync(default));
        }

        Assert.Equal(20, await scenario.CountPendingOutboxRowsAsync());
        await Eventually.HoldsAsync(() => Task.FromResult(consumed.Total == 20), Timeout, "the crashed relay's publishes are consumed");

        await using (var survivor = CreateRelay(scenario, host, options))
        {
            Assert.Equal(20, await survivor.Relay.RelayBatchAsync(default));
        }

        await Eventually.HoldsAsync(() => Task.FromResult(consumed.Total == 40), Timeout, "the republished events are consumed");
        Assert.Equal(20, consumed.Duplicates);
        Assert.Equal(0, await scenario.CountPendingOutboxRowsAsync());
        Assert.Equal(20, await scenario.CountEffectsAsync());
        Assert.Equal(20, await scenario.CountDistinctEffectsAsync());
    }

    internal static RelayHandle CreateRelay(MessagingScenario scenario, Microsoft.Extensions.Hosting.IHost host, IOptions<MessagingOptions> options) =>
        new(new OutboxRelay(
            new MySqlDataSource(scenario.DatabaseConnectionString),
            host.Services.GetRequiredService<RabbitMQConnectionProvider>(),
            options,
            host.Services.GetRequiredService<MessagingTelemetry>(),
            new OutboxSignal(),
            TimeProvider.System,
            NullLogger<OutboxRelay>.Instance));

    internal sealed class RelayHandle(OutboxRelay relay) : IAsyncDisposable
    {
        public OutboxRelay Relay => relay;

        public async ValueTask DisposeAsync()
        {
            await relay.StopAsync(default);
            relay.Dispose();
        }
    }

    private sealed class RelayCrashedException() : Exception("The relay process died here.");
}
