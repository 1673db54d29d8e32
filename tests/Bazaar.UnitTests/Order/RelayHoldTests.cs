using Bazaar.Order.Api.Placement;
using Bazaar.UnitTests.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Bazaar.UnitTests.Order;

public sealed class RelayHoldTests
{
    private static readonly TimeSpan Check = TimeSpan.FromMilliseconds(50);

    private readonly ManualTimeProvider _clock = new();
    private volatile bool _peak;

    private RelayHold Hold(TimeSpan atMost) =>
        new(() => _peak, Options.Create(new RelayHoldOptions { PeakPlacements = 1, AtMost = atMost, CheckInterval = Check }), _clock);

    [Fact]
    public void Outside_a_peak_the_relay_goes_at_once()
    {
        RelayHold hold = Hold(TimeSpan.FromSeconds(30));

        Assert.True(hold.WaitAsync(CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task During_a_peak_the_relay_waits_and_goes_at_the_first_check_after_it_ended()
    {
        RelayHold hold = Hold(TimeSpan.FromSeconds(30));
        _peak = true;

        Task waiting = hold.WaitAsync(CancellationToken.None).AsTask();
        await NextChecksAsync(3);
        Assert.False(waiting.IsCompleted);

        _peak = false;
        await NextChecksAsync(1);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_peak_longer_than_AtMost_holds_the_relay_that_long_once_then_not_again_until_the_next_peak()
    {
        RelayHold hold = Hold(4 * Check);
        _peak = true;

        Task waiting = hold.WaitAsync(CancellationToken.None).AsTask();
        await NextChecksAsync(3);
        Assert.False(waiting.IsCompleted);
        await NextChecksAsync(1);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.True(hold.WaitAsync(CancellationToken.None).IsCompletedSuccessfully);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.True(hold.WaitAsync(CancellationToken.None).IsCompletedSuccessfully);

        _peak = false;
        Assert.True(hold.WaitAsync(CancellationToken.None).IsCompletedSuccessfully);
        _peak = true;
        Assert.False(hold.WaitAsync(CancellationToken.None).IsCompleted);
    }

    [Fact]
    public void The_local_pace_counts_this_replicas_orders_in_the_current_and_the_previous_second()
    {
        var pace = new PlacementPace(
            new ServiceCollection().BuildServiceProvider(), Options.Create(new PlacementPaceOptions()), _clock, NullLogger<PlacementPace>.Instance);
        // The manual clock starts on a whole second.
        Place(pace, 30);
        _clock.Advance(TimeSpan.FromMilliseconds(500));
        Place(pace, 20);
        Assert.Equal(50, pace.RecentLocal);

        _clock.Advance(TimeSpan.FromSeconds(1));
        Place(pace, 5);
        Assert.Equal(55, pace.RecentLocal);

        _clock.Advance(TimeSpan.FromSeconds(1));
        pace.Flush();
        Assert.Equal(5, pace.RecentLocal);

        _clock.Advance(TimeSpan.FromSeconds(5));
        pace.Flush();
        Assert.Equal(0, pace.RecentLocal);
    }

    private static void Place(PlacementPace pace, int orders)
    {
        for (int i = 0; i < orders; i++)
        {
            pace.Placed();
        }

        pace.Flush();
    }

    // The held relay arms its next check on whichever thread ran the last one.
    private async Task NextChecksAsync(int count)
    {
        for (int i = 0; i < count; i++)
        {
            await Eventually.HoldsAsync(() => _clock.PendingTimers.Count > 0, "the hold's next check is armed");
            _clock.Advance(Check);
        }
    }
}
