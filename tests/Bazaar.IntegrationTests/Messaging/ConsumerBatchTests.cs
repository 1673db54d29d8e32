using Bazaar.Data;
using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Bazaar.IntegrationTests.Messaging;

/// <summary>
/// Messages that wait together are handled in one transaction. Each test holds the only worker on a first message,
/// queues the rest behind it, then lets go, so the rest arrive at the worker as one batch.
/// </summary>
public sealed class ConsumerBatchTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static readonly SqlStatement LargestCommit = new("inbox.largest_commit", """
        SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM inbox GROUP BY handled_at) AS commits
        """);

    /// <summary>With <paramref name="deferWrites"/>, the handlers append their writes to the context, sent once per batch.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Messages_waiting_together_commit_in_one_transaction_and_each_effect_happens_once(bool deferWrites)
    {
        await using var held = await HeldConsumer.StartAsync(deferWrites ? "batchwrites" : "batch", deferWrites: deferWrites);
        await held.PublishAsync(Enumerable.Range(0, 20).Select(i => EventEnvelope.Create(new ItemAdded($"sku-{i}"))));
        await held.QueuedAsync(20);

        held.Release();

        await Eventually.HoldsAsync(() => Task.FromResult(held.Consumed.Total == 21), Timeout, "every message is acknowledged");
        Assert.Equal(21, await held.Scenario.CountEffectsAsync());
        Assert.Equal(21, await held.Scenario.CountDistinctEffectsAsync());
        Assert.Equal(0, held.Consumed.Duplicates);
        Assert.Equal(20, await held.Scenario.DataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(LargestCommit, cancellationToken: t)));
    }

    [Fact]
    public async Task A_handler_registered_alone_commits_each_message_in_a_transaction_of_its_own_even_when_they_wait_together()
    {
        await using var held = await HeldConsumer.StartAsync("batchalone", alone: true);
        await held.PublishAsync(Enumerable.Range(0, 5).Select(i => EventEnvelope.Create(new ItemAdded($"sku-{i}"))));
        await held.QueuedAsync(5);

        held.Release();

        await Eventually.HoldsAsync(() => Task.FromResult(held.Consumed.Total == 6), Timeout, "every message is acknowledged");
        Assert.Equal(6, await held.Scenario.CountDistinctEffectsAsync());
        Assert.Equal(1, await held.Scenario.DataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(LargestCommit, cancellationToken: t)));
    }

    [Fact]
    public async Task A_throttled_consumer_takes_no_more_messages_per_transaction_than_its_turn_allows()
    {
        var throttle = new CountingThrottle(maxMessages: 3);
        await using var held = await HeldConsumer.StartAsync("batchthrottle", throttle: throttle);
        await held.PublishAsync(Enumerable.Range(0, 20).Select(i => EventEnvelope.Create(new ItemAdded($"sku-{i}"))));
        await held.QueuedAsync(20);

        held.Release();

        await Eventually.HoldsAsync(() => Task.FromResult(held.Consumed.Total == 21), Timeout, "every message is acknowledged");
        Assert.Equal(21, await held.Scenario.CountDistinctEffectsAsync());
        Assert.Equal(3, await held.Scenario.DataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(LargestCommit, cancellationToken: t)));
        // The held first message took a turn, then 20 more in turns of at most three; every turn is given back with the
        // number of messages its transaction took.
        Assert.InRange(throttle.Taken, 8, 21);
        await Eventually.HoldsAsync(() => Task.FromResult(throttle.Returned == throttle.Taken), Timeout, "every turn is given back");
        Assert.Equal(21, throttle.MessagesReported);
    }

    [Fact]
    public async Task One_failing_handler_in_a_batch_goes_down_the_retry_path_alone_and_the_others_commit_once()
    {
        await using var held = await HeldConsumer.StartAsync("batchfail", (sku, _) => sku == "sku-bad");

        var (bad, letter) = await held.HandleNineGoodAndOneBadAsync();

        Assert.Contains("Handler failed 4 time(s)", letter.Reason);
        Assert.Equal(1, held.Probe.Calls.Count(c => c.EventId == bad.Id && c.Attempt == 3));
    }

    [Fact]
    public async Task The_same_event_three_times_in_one_batch_changes_the_database_once()
    {
        await using var held = await HeldConsumer.StartAsync("batchdup");
        var envelope = EventEnvelope.Create(new ItemAdded("sku-thrice"));
        var others = Enumerable.Range(0, 5).Select(i => EventEnvelope.Create(new ItemAdded($"sku-{i}"))).ToArray();
        await held.PublishAsync([envelope, .. others, envelope, envelope]);
        await held.QueuedAsync(8);

        held.Release();

        await Eventually.HoldsAsync(() => Task.FromResult(held.Consumed.Total == 9), Timeout, "every delivery is acknowledged");
        Assert.Equal(2, held.Consumed.Duplicates);
        Assert.Equal(7, await held.Scenario.CountEffectsAsync());
        Assert.Equal(7, await held.Scenario.CountDistinctEffectsAsync());
    }

    [Fact]
    public async Task An_appended_write_that_fails_sends_only_its_message_down_the_retry_path_and_the_others_commit_once()
    {
        await using var held = await HeldConsumer.StartAsync("batchwritefail", deferWrites: true, brokenWriteSku: "sku-bad");

        var (_, letter) = await held.HandleNineGoodAndOneBadAsync();

        Assert.Contains("cannot be null", letter.Reason, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A consumer with one worker whose first handler waits until <see cref="Release"/>.</summary>
    private sealed class HeldConsumer : IAsyncDisposable
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private MessagingOptions _options = null!;

        private HeldConsumer(MessagingScenario scenario) => Scenario = scenario;

        public MessagingScenario Scenario { get; }

        public IHost Host { get; private set; } = null!;

        public HandlerProbe Probe { get; } = new();

        public CounterProbe Consumed { get; private set; } = null!;

        public static async Task<HeldConsumer> StartAsync(
            string name, Func<string, EventContext, bool>? shouldFail = null, bool deferWrites = false, string? brokenWriteSku = null, bool alone = false,
            IConsumerThrottle? throttle = null)
        {
            var held = new HeldConsumer(await MessagingScenario.CreateAsync(name));
            held.Probe.DeferWrites = deferWrites;
            held.Probe.BrokenWriteSku = brokenWriteSku;
            var calls = 0;
            held.Probe.BeforeWrite = ct => Interlocked.Increment(ref calls) == 1 ? held._release.Task.WaitAsync(ct) : Task.CompletedTask;
            held.Probe.ShouldFail = (e, context) => shouldFail?.Invoke(e.Sku, context) ?? false;
            held.Host = await held.Scenario.StartHostAsync(m =>
            {
                m.AddConsumer<ItemAdded, RecordingHandler>(alone);
                if (throttle is not null)
                {
                    m.Builder.Services.AddSingleton(throttle);
                }
            }, o => o.MaxConcurrency = 1, held.Probe);
            held._options = held.Host.Services.GetRequiredService<IOptions<MessagingOptions>>().Value;
            held.Consumed = new CounterProbe("bazaar.messaging.consumed", held._options.QueueName);
            await held.PublishAsync([EventEnvelope.Create(new ItemAdded("sku-first"))]);
            await Eventually.HoldsAsync(() => Task.FromResult(!held.Probe.Calls.IsEmpty), Timeout, "the first handler is held");
            return held;
        }

        public async Task PublishAsync(IEnumerable<EventEnvelope> envelopes)
        {
            await using var publisher = new ConfirmingPublisher(Host.Services.GetRequiredService<RabbitMQConnectionProvider>(), _options.ExchangeName);
            foreach (var envelope in envelopes)
            {
                var properties = new RabbitMQ.Client.BasicProperties { MessageId = envelope.Id.ToString(), Type = envelope.Type, Persistent = true };
                await publisher.PublishAsync(_options.ExchangeName, envelope.Type, properties, envelope.ToUtf8Bytes(), default);
            }
        }

        /// <summary>Waits until <paramref name="count"/> deliveries wait behind the held one.</summary>
        public Task QueuedAsync(int count)
        {
            var consumer = Host.Services.GetRequiredService<EventConsumerHost>();
            return Eventually.HoldsAsync(() => Task.FromResult(consumer.Waiting == count), Timeout, $"{count} messages wait for the worker");
        }

        public void Release() => _release.TrySetResult();

        /// <summary>
        /// Queues nine good messages and "sku-bad" behind the held one as one batch, lets go, and checks that only the bad
        /// one is dead-lettered while the others commit once; returns the bad envelope and its dead letter.
        /// </summary>
        public async Task<(EventEnvelope Bad, DeadLetter Letter)> HandleNineGoodAndOneBadAsync()
        {
            var envelopes = Enumerable.Range(0, 10).Select(i => EventEnvelope.Create(new ItemAdded(i == 5 ? "sku-bad" : $"sku-{i}"))).ToArray();
            await PublishAsync(envelopes);
            await QueuedAsync(10);

            Release();

            var store = Host.Services.GetRequiredService<DeadLetterStore>();
            IReadOnlyList<DeadLetter> letters = [];
            await Eventually.HoldsAsync(async () => (letters = (await store.ListAsync("consumer", 10, default))!).Count == 1, Timeout, "the bad message is dead-lettered");
            var letter = Assert.Single(letters);
            Assert.Equal(envelopes[5].Id.ToString(), letter.MessageId);
            await Eventually.HoldsAsync(() => Task.FromResult(Consumed.Total == 10), Timeout, "the nine others and the first are acknowledged");
            Assert.Equal(10, await Scenario.CountEffectsAsync());
            Assert.Equal(10, await Scenario.CountDistinctEffectsAsync());
            Assert.Equal(0, Consumed.Duplicates);
            return (envelopes[5], letter);
        }

        public async ValueTask DisposeAsync()
        {
            Release();
            Consumed?.Dispose();
            await Scenario.DisposeAsync();
        }
    }
}

/// <summary>Allows <c>maxMessages</c> per turn at once and counts the turns taken and given back, and the messages they took.</summary>
internal sealed class CountingThrottle(int maxMessages) : IConsumerThrottle, IConsumerTurnOwner
{
    private int _taken;
    private int _returned;
    private int _messages;

    public int Taken => Volatile.Read(ref _taken);

    public int Returned => Volatile.Read(ref _returned);

    public int MessagesReported => Volatile.Read(ref _messages);

    public ValueTask<ConsumerTurn> WaitTurnAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _taken);
        return ValueTask.FromResult(new ConsumerTurn(maxMessages, this));
    }

    public void TurnEnded(int maxMessages, int messages)
    {
        Interlocked.Add(ref _messages, messages);
        Interlocked.Increment(ref _returned);
    }
}
