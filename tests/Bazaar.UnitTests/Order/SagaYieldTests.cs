using Bazaar.Order.Api.Placement;
using Bazaar.Worker.Saga;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Bazaar.UnitTests.Order;

public sealed class SagaYieldTests
{
    private static SagaYield Yield(int peakPlacements, int stepsDuringPeak = 1) => new(
        new ServiceCollection().BuildServiceProvider(),
        Options.Create(new SagaYieldOptions { PeakPlacements = peakPlacements, StepsDuringPeak = stepsDuringPeak }),
        Options.Create(new PlacementPaceOptions()),
        TimeProvider.System,
        NullLogger<SagaYield>.Instance);

    [Fact]
    public void Outside_a_peak_every_step_goes_at_once()
    {
        using SagaYield yielding = Yield(peakPlacements: 100);
        yielding.Observe(99);

        ValueTask<SagaYield.Turn>[] turns = [.. Enumerable.Range(0, 8).Select(_ => yielding.WaitTurnAsync(CancellationToken.None))];

        Assert.False(yielding.IsYielding);
        Assert.All(turns, turn => Assert.True(turn.IsCompletedSuccessfully));
    }

    [Fact]
    public async Task During_a_peak_steps_take_turns_and_the_next_goes_when_a_turn_is_given_back()
    {
        using SagaYield yielding = Yield(peakPlacements: 100, stepsDuringPeak: 1);
        yielding.Observe(100);

        SagaYield.Turn first = await yielding.WaitTurnAsync(CancellationToken.None);
        ValueTask<SagaYield.Turn> second = yielding.WaitTurnAsync(CancellationToken.None);

        Assert.True(yielding.IsYielding);
        Assert.False(second.IsCompleted);
        first.Dispose();
        using SagaYield.Turn secondTurn = await second.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void A_peak_of_zero_means_the_saga_never_yields()
    {
        using SagaYield yielding = Yield(peakPlacements: 0);

        yielding.Observe(1_000_000);

        Assert.False(yielding.IsYielding);
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
