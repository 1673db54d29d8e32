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
    private static readonly TimeSpan OneAtATimeFor = TimeSpan.FromSeconds(1);

    private readonly ManualTimeProvider _clock = new();

    private SagaYield Yield(int peakPlacements) => new(
        new ServiceCollection().BuildServiceProvider(),
        Options.Create(new SagaYieldOptions { PeakPlacements = peakPlacements, MessagesPerTurn = 3, TurnInterval = Interval, OneAtATimeFor = OneAtATimeFor }),
        Options.Create(new PlacementPaceOptions()),
        _clock,
        NullLogger<SagaYield>.Instance);

    [Fact]
    public async Task After_an_idle_spell_one_transaction_at_a_time_each_allowed_twice_the_last_until_one_takes_fewer()
    {
        using SagaYield yielding = Yield(peakPlacements: 100);
        yielding.Observe(99);

        List<Task<ConsumerTurn>> waiting = [.. Enumerable.Range(0, 8).Select(_ => yielding.WaitTurnAsync(CancellationToken.None).AsTask())];

        Assert.False(yielding.IsYielding);
        ConsumerTurn turn = await NextTurnAsync(waiting);
        Assert.Equal(3, turn.MaxMessages);
        foreach (int limit in new[] { 6, 12 })
        {
            turn.End(messages: turn.MaxMessages);
            turn = await NextTurnAsync(waiting);
            Assert.Equal(limit, turn.MaxMessages);
        }

        // One that takes fewer (the queue ran dry) ends the one-at-a-time: the five waiting go at once.
        turn.End(messages: 5);
        ConsumerTurn[] together = await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(5, together.Length);
        Assert.All(together, next => Assert.Equal(12, next.MaxMessages));

        // None running, the last having taken fewer: the saga was idle, and the next starts small and alone again.
        foreach (ConsumerTurn next in together)
        {
            next.End(messages: 1);
        }

        ValueTask<ConsumerTurn> alone = yielding.WaitTurnAsync(CancellationToken.None);
        ValueTask<ConsumerTurn> behind = yielding.WaitTurnAsync(CancellationToken.None);
        Assert.Equal(3, (await alone).MaxMessages);
        Assert.False(behind.IsCompleted);
    }

    [Fact]
    public async Task One_at_a_time_lasts_no_longer_than_its_bound_even_while_a_slow_transaction_holds_the_turn()
    {
        using SagaYield yielding = Yield(peakPlacements: 100);
        yielding.Observe(99);
        ConsumerTurn slow = await yielding.WaitTurnAsync(CancellationToken.None);
        List<Task<ConsumerTurn>> waiting = [yielding.WaitTurnAsync(CancellationToken.None).AsTask(), yielding.WaitTurnAsync(CancellationToken.None).AsTask()];
        await Eventually.HoldsAsync(() => _clock.PendingTimers.Count == 2, "both waiting turns wait with the bound");

        _clock.Advance(OneAtATimeFor - TimeSpan.FromMilliseconds(1));
        Assert.All(waiting, turn => Assert.False(turn.IsCompleted));
        _clock.Advance(TimeSpan.FromMilliseconds(1));

        ConsumerTurn[] together = await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.All(together, turn => Assert.Equal(3, turn.MaxMessages));
        slow.End(messages: 3);
        Assert.True(yielding.WaitTurnAsync(CancellationToken.None).IsCompleted);
    }

    [Fact]
    public async Task A_peak_that_starts_while_a_turn_waits_for_the_ramp_gives_it_a_peak_turn()
    {
        using SagaYield yielding = Yield(peakPlacements: 100);
        yielding.Observe(99);
        ConsumerTurn ramp = await yielding.WaitTurnAsync(CancellationToken.None);
        ValueTask<ConsumerTurn> waiting = yielding.WaitTurnAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        yielding.Observe(100);

        ConsumerTurn peak = await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(3, peak.MaxMessages);
        ramp.End(messages: 3);
        peak.End(messages: 3);
        // A peak turn: the next waits out the pause.
        ValueTask<ConsumerTurn> next = yielding.WaitTurnAsync(CancellationToken.None);
        await Eventually.HoldsAsync(() => _clock.PendingTimers.Count > 0, "the next turn's pause is armed");
        Assert.False(next.IsCompleted);
        _clock.Advance(Interval);
        (await next.AsTask().WaitAsync(TimeSpan.FromSeconds(5))).End(messages: 1);
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

    /// <summary>The one turn of <paramref name="waiting"/> that has gone (the others must still wait), taken out of it.</summary>
    private static async Task<ConsumerTurn> NextTurnAsync(List<Task<ConsumerTurn>> waiting)
    {
        Task<ConsumerTurn> gone = await Task.WhenAny(waiting).WaitAsync(TimeSpan.FromSeconds(5));
        waiting.Remove(gone);
        Assert.All(waiting, turn => Assert.False(turn.IsCompleted));
        return await gone;
    }
}
