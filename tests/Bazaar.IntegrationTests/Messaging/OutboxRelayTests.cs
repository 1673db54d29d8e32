using Bazaar.Data;
using Bazaar.Testing;
using System.Collections.Concurrent;
using System.Diagnostics;
using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Bazaar.IntegrationTests.Messaging;

public sealed class OutboxRelayTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Broker_stopped_while_1000_state_changes_commit_publishes_all_1000_once_it_returns_and_each_effect_happens_once()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await using var broker = await TestServers.StartDedicatedAsync(redis: false, rabbitMq: true, mySql: false, cancellation.Token);
        await using var scenario = await MessagingScenario.CreateAsync("outage", broker.RabbitMqConnectionString, cancellation.Token);
        var host = await scenario.StartHostAsync(m => m.AddOutbox().AddConsumer<ItemAdded, RecordingHandler>(), cancellationToken: cancellation.Token);
        var outbox = host.Services.GetRequiredService<IOutbox>();

        await broker.StopServerAsync(TestServers.RabbitMq, cancellation.Token);
        await Parallel.ForEachAsync(Enumerable.Range(0, 1000), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellation.Token },
            async (i, token) => await scenario.CommitStateChangeAsync(outbox, $"sku-{i}", token));

        Assert.Equal(1000, await scenario.CountPendingOutboxRowsAsync(cancellation.Token));
        Assert.Equal(0, await scenario.CountEffectsAsync(cancellation.Token));

        await broker.StartServerAsync(TestServers.RabbitMq, cancellation.Token);

        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync(cancellation.Token) >= 1000, Timeout, "all 1000 effects are committed");
        await Eventually.HoldsAsync(async () => await scenario.CountPendingOutboxRowsAsync(cancellation.Token) == 0, Timeout, "every outbox row is marked sent");
        Assert.Equal(1000, await scenario.CountEffectsAsync(cancellation.Token));
        Assert.Equal(1000, await scenario.CountDistinctEffectsAsync(cancellation.Token));
    }

    [Fact]
    public async Task An_event_published_before_its_consumer_ever_started_is_kept_and_delivered_once_the_consumer_binds()
    {
        await using var scenario = await MessagingScenario.CreateAsync("early");
        var publisher = await scenario.StartHostAsync(m => m.AddOutbox());
        var options = publisher.Services.GetRequiredService<IOptions<MessagingOptions>>().Value;
        using var unroutable = new CounterProbe("bazaar.messaging.unroutable", options.ExchangeName);

        await scenario.CommitStateChangeAsync(publisher.Services.GetRequiredService<IOutbox>(), "sku-early");
        await Eventually.HoldsAsync(() => Task.FromResult(unroutable.Total >= 2), Timeout, "the relay offered the event twice and no queue took it");
        Assert.Equal(1, await scenario.CountPendingOutboxRowsAsync());

        await scenario.StartHostAsync(m => m.AddConsumer<ItemAdded, RecordingHandler>());

        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() == 1, Timeout, "the consumer receives the early event");
        await Eventually.HoldsAsync(async () => await scenario.CountPendingOutboxRowsAsync() == 0, Timeout, "the row is marked sent");
    }

    [Fact]
    public async Task A_type_nobody_has_bound_for_the_give_up_time_is_published_once_per_event_and_marked_sent()
    {
        await using var scenario = await MessagingScenario.CreateAsync("nosubscriber");
        var publisher = await scenario.StartHostAsync(m => m.AddOutbox(), o => o.UnroutableGiveUpAfter = TimeSpan.FromSeconds(1));
        var options = publisher.Services.GetRequiredService<IOptions<MessagingOptions>>().Value;
        var outbox = publisher.Services.GetRequiredService<IOutbox>();
        using var unroutable = new CounterProbe("bazaar.messaging.unroutable", options.ExchangeName);

        await scenario.CommitStateChangeAsync(outbox, "sku-first");
        await Eventually.HoldsAsync(async () => await scenario.CountPendingOutboxRowsAsync() == 0, Timeout, "the first event is given up after a second");
        long offeredBefore = unroutable.Total;

        for (var i = 0; i < 20; i++)
        {
            await scenario.CommitStateChangeAsync(outbox, $"sku-{i}");
        }

        await Eventually.HoldsAsync(async () => await scenario.CountPendingOutboxRowsAsync() == 0, Timeout, "later events of the type are marked sent at once");
        Assert.Equal(20, unroutable.Total - offeredBefore);
    }

    [Fact]
    public async Task Two_relays_over_one_outbox_never_publish_the_same_row_concurrently()
    {
        await using var scenario = await MessagingScenario.CreateAsync("tworelays");
        var host = await scenario.StartHostAsync(m => { });
        var options = host.Services.GetRequiredService<IOptions<MessagingOptions>>();
        var connection = await host.Services.GetRequiredService<RabbitMQConnectionProvider>().GetConnectionAsync(default);

        // A plain queue on every event type counts the events that reach the broker (alone or bundled), with no inbox to
        // hide duplicates.
        await using var channel = await connection.CreateChannelAsync();
        var queue = await BindEveryTypeAsync(channel, options.Value);
        var deliveries = new ConcurrentDictionary<Guid, int>();
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            IEnumerable<ReadOnlyMemory<byte>> events = delivery.BasicProperties.ContentType == EventBundle.ContentType
                ? EventBundle.Read(delivery.Body).Select(entry => entry.Envelope)
                : [delivery.Body.ToArray()];
            foreach (var body in events)
            {
                deliveries.AddOrUpdate(EventEnvelope.FromUtf8Bytes(body.Span).Id, 1, (_, n) => n + 1);
            }

            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer);

        var outbox = new Outbox(new OutboxSignal(), TimeProvider.System);
        const int rows = 2000;
        await Parallel.ForEachAsync(Enumerable.Range(0, rows / 100), async (batch, token) =>
            await scenario.DataSource.InTransactionAsync(async (_, transaction, t) =>
            {
                for (var i = 0; i < 100; i++)
                {
                    await outbox.AddAsync(transaction, new ItemAdded($"sku-{batch}-{i}"), cancellationToken: t);
                }
            }, token));

        // Both try at once; the lease lets one of them publish, in batches of 25.
        var smallBatches = SmallBatches(options.Value);
        await using var first = IdempotencyTests.CreateRelay(scenario, host, smallBatches);
        await using var second = IdempotencyTests.CreateRelay(scenario, host, smallBatches);
        var published = await Task.WhenAll(DrainAsync(first.Relay), DrainAsync(second.Relay));

        await Eventually.HoldsAsync(() => Task.FromResult(deliveries.Count == rows), Timeout, "every row reaches the broker");
        Assert.Equal(rows, published.Sum());
        Assert.All(deliveries, d => Assert.Equal(1, d.Value));
        Assert.Equal(0, await scenario.CountPendingOutboxRowsAsync());
    }

    [Fact]
    public async Task Only_the_relay_holding_the_lease_publishes_and_another_takes_over_once_it_stops()
    {
        await using var scenario = await MessagingScenario.CreateAsync("lease");
        var host = await scenario.StartHostAsync(m => { });
        var options = host.Services.GetRequiredService<IOptions<MessagingOptions>>();
        var connection = await host.Services.GetRequiredService<RabbitMQConnectionProvider>().GetConnectionAsync(default);
        await using var channel = await connection.CreateChannelAsync();
        await BindEveryTypeAsync(channel, options.Value);
        var outbox = new Outbox(new OutboxSignal(), TimeProvider.System);
        var leader = IdempotencyTests.CreateRelay(scenario, host, options);
        await using var follower = IdempotencyTests.CreateRelay(scenario, host, options);

        await scenario.CommitStateChangeAsync(outbox, "sku-first");
        Assert.Equal(1, await DrainAsync(leader.Relay));
        await scenario.CommitStateChangeAsync(outbox, "sku-second");
        Assert.Equal(0, await DrainAsync(follower.Relay));
        Assert.Equal(1, await scenario.CountPendingOutboxRowsAsync());

        await leader.DisposeAsync();

        // The follower asks for the lease again after its poll interval (50 ms here).
        await Eventually.HoldsAsync(async () => await DrainAsync(follower.Relay) == 1, Timeout, "the follower publishes once the leader released the lease");
        Assert.Equal(0, await scenario.CountPendingOutboxRowsAsync());
    }

    [Fact]
    public async Task A_trace_started_by_a_publish_continues_in_the_consumer()
    {
        var stopped = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            // As the services do (ServiceDefaults): the RabbitMQ client's own spans sit between publish and process.
            ShouldListenTo = source => source.Name.StartsWith("Bazaar.", StringComparison.Ordinal) || source.Name.StartsWith("RabbitMQ.Client", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var testSource = new ActivitySource("Bazaar.Tests.Tracing");

        await using var scenario = await MessagingScenario.CreateAsync("trace");
        var probe = new HandlerProbe();
        var host = await scenario.StartHostAsync(m => m.AddOutbox().AddConsumer<ItemAdded, RecordingHandler>(), probe: probe);
        EventEnvelope envelope;
        ActivityTraceId traceId;
        using (var request = testSource.StartActivity("POST /api/items", ActivityKind.Server)!)
        {
            traceId = request.TraceId;
            envelope = await scenario.CommitStateChangeAsync(host.Services.GetRequiredService<IOutbox>(), "sku-traced");
        }

        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() == 1, Timeout, "the event is handled");
        var call = Assert.Single(probe.Calls);
        Assert.Equal(traceId, call.TraceId);
        await Eventually.HoldsAsync(() => Task.FromResult(stopped.Any(a => a.OperationName == $"{ItemAdded.EventType} process" && a.TraceId == traceId)), Timeout, "the consumer span ends");
        var publish = Assert.Single(stopped, a => a.OperationName == $"{ItemAdded.EventType} publish" && a.TraceId == traceId);
        var process = Assert.Single(stopped, a => a.OperationName == $"{ItemAdded.EventType} process" && a.TraceId == traceId);
        Assert.Contains(publish.SpanId, Ancestors(process, stopped));
        Assert.Equal(envelope.Id.ToString(), process.GetTagItem("messaging.message.id"));
    }

    private static IEnumerable<ActivitySpanId> Ancestors(Activity span, IEnumerable<Activity> spans)
    {
        var byId = spans.Where(s => s.TraceId == span.TraceId).ToDictionary(s => s.SpanId);
        for (var parent = span.ParentSpanId; parent != default; parent = byId.TryGetValue(parent, out var next) ? next.ParentSpanId : default)
        {
            yield return parent;
        }
    }

    [Fact]
    public async Task The_outbox_health_check_is_degraded_while_the_oldest_unpublished_row_is_older_than_the_threshold()
    {
        await using var scenario = await MessagingScenario.CreateAsync("health");
        var host = await scenario.StartHostAsync(m => { }, o => o.BacklogDegradedAfter = TimeSpan.FromMilliseconds(300));
        var outbox = new Outbox(new OutboxSignal(), TimeProvider.System);
        var dataSource = host.Services.GetRequiredKeyedService<MySqlConnector.MySqlDataSource>(MessagingScenario.Database);
        var check = new OutboxHealthCheck(dataSource, host.Services.GetRequiredService<IOptions<MessagingOptions>>(), TimeProvider.System);
        var context = new HealthCheckContext { Registration = new HealthCheckRegistration("outbox", check, null, null) };

        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(context)).Status);
        await scenario.CommitStateChangeAsync(outbox, "sku-waiting");

        await Eventually.HoldsAsync(async () => (await check.CheckHealthAsync(context)).Status == HealthStatus.Degraded, Timeout, "the backlog counts as old");
    }

    /// <summary>Declares a queue of the test's own, bound to every event type, so every publish is routed; returns its name.</summary>
    private static async Task<string> BindEveryTypeAsync(IChannel channel, MessagingOptions options)
    {
        var queue = (await channel.QueueDeclareAsync(exclusive: true)).QueueName;
        await MessagingTopology.DeclareExchangeAsync(channel, options.ExchangeName, default);
        await channel.QueueBindAsync(queue, options.ExchangeName, "#");
        return queue;
    }

    private static async Task<int> DrainAsync(OutboxRelay relay)
    {
        var total = 0;
        int batch;
        while ((batch = await relay.RelayBatchAsync(default)) > 0)
        {
            total += batch;
        }

        return total;
    }

    /// <summary>Small batches: many claims, each of which either relay could have made.</summary>
    private static IOptions<MessagingOptions> SmallBatches(MessagingOptions source) => Options.Create(new MessagingOptions
    {
        Prefix = source.Prefix,
        ServiceName = source.ServiceName,
        RetryDelays = source.RetryDelays,
        RelayBatchSize = 25,
    });
}
