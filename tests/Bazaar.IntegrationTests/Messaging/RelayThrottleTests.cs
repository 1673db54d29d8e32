using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;

namespace Bazaar.IntegrationTests.Messaging;

/// <summary>A service's <see cref="IRelayThrottle"/> holds its relay: rows stay in the outbox until it lets go.</summary>
public sealed class RelayThrottleTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task While_its_throttle_holds_the_relay_publishes_nothing_and_once_released_it_publishes_every_row()
    {
        await using var scenario = await MessagingScenario.CreateAsync("relayhold");
        var gate = new Gate();
        var host = await scenario.StartHostAsync(m =>
        {
            m.Builder.Services.AddSingleton<IRelayThrottle>(gate);
            m.AddOutbox().AddConsumer<ItemAdded, RecordingHandler>();
        });
        var outbox = host.Services.GetRequiredService<IOutbox>();
        await scenario.CommitStateChangeAsync(outbox, "sku-open");
        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() == 1, Timeout, "an event is published while the throttle lets the relay go");

        gate.Close();
        var asked = gate.Asked;
        await Eventually.HoldsAsync(() => Task.FromResult(gate.Asked > asked), Timeout, "the relay waits on its closed throttle");
        for (var i = 0; i < 5; i++)
        {
            await scenario.CommitStateChangeAsync(outbox, $"sku-held-{i}");
        }

        // Six of the relay's polls (RelayPollInterval is 50 ms here): a relay not held publishes the rows well within them.
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.Equal(5, await scenario.CountPendingOutboxRowsAsync());
        Assert.Equal(1, await scenario.CountEffectsAsync());

        gate.Open();
        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() == 6, Timeout, "the held events are published once the throttle lets go");
        Assert.Equal(0, await scenario.CountPendingOutboxRowsAsync());
    }

    private sealed class Gate : IRelayThrottle
    {
        private volatile TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _asked;

        public Gate() => _open.SetResult();

        public int Asked => Volatile.Read(ref _asked);

        public void Close() => _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Open() => _open.TrySetResult();

        public ValueTask WaitAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _asked);
            return new ValueTask(_open.Task.WaitAsync(cancellationToken));
        }
    }
}
