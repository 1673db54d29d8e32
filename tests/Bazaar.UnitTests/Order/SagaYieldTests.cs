using Bazaar.Messaging;
using Bazaar.Order.Api.Placement;
using Bazaar.UnitTests.ServiceDefaults;
using Bazaar.Worker.Saga;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Bazaar.UnitTests.Order;

public sealed class SagaYieldTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private readonly ManualTimeProvider _clock = new();

    private SagaYield Yield(int peakPlacements) => new(
        new ServiceCollection().BuildServiceProvider(),
        Options.Create(new SagaYieldOptions { PeakPlacements = peakPlacements, MessagesPerTurn = 3, TurnInterval = Interval }),
        Options.Create(new PlacementPaceOptions()),
        _clock,
        NullLogger<SagaYield>.Instance);

    [Fact]
    public async Task Outside_a_peak_every_consumer_transaction_goes_at_once_small_after_an_idle_spell_and_growing_while_they_fill()
    {
        using SagaYield yielding = Yield(peakPlacements: 100);
        yielding.Observe(99);

        ValueTask<ConsumerTurn>[] turns = [.. Enumerable.Range(0, 8).Select(_ => yielding.WaitTurnAsync(CancellationToken.None))];

        Assert.False(yielding.IsYielding);
        Assert.All(turns, turn => Assert.True(turn.IsCompletedSuccessfully));
        var first = new ConsumerTurn[turns.Length];
        for (int i = 0; i < turns.Length; i++)
        {
            first[i] = await turns[i];
        }

        Assert.All(first, turn => Assert.Equal(3, turn.MaxMessages));

        first[0].End(messages: 3);
        first[1].End(messages: 3);
        first[2].End(messages: 1);
        ConsumerTurn grown = await yielding.WaitTurnAsync(CancellationToken.None);
        Assert.Equal(9, grown.MaxMessages);

        grown.End(messages: 9);
        foreach (ConsumerTurn turn in first[3..])
        {
            turn.End(messages: 0);
        }

        // No transaction running: the saga was idle, and the next starts small again.
        Assert.Equal(3, (await yielding.WaitTurnAsync(CancellationToken.None)).MaxMessages);
    }

    [Fact]
    public async Task During_a_peak_one_turn_of_a_few_messages_at_a_time_and_a_pause_after_each()
    {
        using SagaYield yielding = Yield(peakPlacements: 100);
        yielding.Observe(100);

        ConsumerTurn first = await yielding.WaitTurnAsync(CancellationToken.None);
        ValueTask<ConsumerTurn> second = yielding.WaitTurnAsync(CancellationToken.None);

        Assert.True(yielding.IsYielding);
        Assert.Equal(3, first.MaxMessages);
        Assert.False(second.IsCompleted);

        first.End(messages: 3);
        // The waiting turn takes the semaphore on another thread, then starts its pause timer there.
        await Eventually.HoldsAsync(() => _clock.PendingTimers.Count > 0, "the second turn's pause is armed");
        Assert.Equal([Interval], _clock.PendingTimers);
        Assert.False(second.IsCompleted);
        _clock.Advance(Interval - TimeSpan.FromMilliseconds(1));
        Assert.False(second.IsCompleted);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        ConsumerTurn secondTurn = await second.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(3, secondTurn.MaxMessages);
        secondTurn.End(messages: 3);
    }

    [Fact]
    public async Task Once_the_peak_is_over_the_next_transaction_goes_without_a_pause_and_starts_small()
    {
        using SagaYield yielding = Yield(peakPlacements: 100);
        yielding.Observe(100);
        (await yielding.WaitTurnAsync(CancellationToken.None)).End(messages: 3);

        yielding.Observe(10);

        ValueTask<ConsumerTurn> next = yielding.WaitTurnAsync(CancellationToken.None);
        Assert.True(next.IsCompletedSuccessfully);
        Assert.Equal(3, (await next).MaxMessages);
    }

    [Fact]
    public async Task A_peak_of_zero_means_the_saga_never_yields_nor_ramps()
    {
        using SagaYield yielding = Yield(peakPlacements: 0);

        yielding.Observe(1_000_000);

        Assert.False(yielding.IsYielding);
        Assert.Equal(int.MaxValue, (await yielding.WaitTurnAsync(CancellationToken.None)).MaxMessages);
    }

    [Fact]
    public void The_peak_ends_when_the_pace_falls_below_it()
    {
        using SagaYield yielding = Yield(peakPlacements: 100);
        yielding.Observe(500);

        yielding.Observe(10);

        Assert.False(yielding.IsYielding);
    }
}
