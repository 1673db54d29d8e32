using Bazaar.Messaging;

namespace Bazaar.UnitTests.Messaging;

public sealed class DeliveryAcknowledgerTests
{
    private const int HoldLimit = 4;

    // Multiple acks as their tag; single acks (multiple false) in _ackedAlone.
    private readonly List<ulong> _acked = [];
    private readonly List<ulong> _ackedAlone = [];
    private readonly DeliveryAcknowledger _acks;

    public DeliveryAcknowledgerTests() => _acks = new DeliveryAcknowledger((tag, multiple, _) =>
    {
        (multiple ? _acked : _ackedAlone).Add(tag);
        return ValueTask.CompletedTask;
    }, HoldLimit);

    [Fact]
    public async Task A_batch_finished_before_an_earlier_delivery_waits_and_then_one_multiple_ack_covers_the_whole_run()
    {
        Register(1, 2, 3, 4, 5);

        await _acks.AckAsync([3, 4], CancellationToken.None);
        Assert.Empty(_acked);

        await _acks.AckAsync([1, 2], CancellationToken.None);
        Assert.Equal([4UL], _acked);
        Assert.Empty(_ackedAlone);
        Assert.Equal(1, _acks.Outstanding);
    }

    [Fact]
    public async Task Once_the_hold_limit_of_finished_deliveries_waits_behind_one_still_being_handled_each_is_acked_alone()
    {
        Register(1, 2, 3, 4, 5, 6, 7, 8);

        await _acks.AckAsync([2, 3, 4], CancellationToken.None);
        Assert.Empty(_ackedAlone);
        await _acks.AckAsync([5], CancellationToken.None);
        Assert.Equal([2UL, 3UL, 4UL, 5UL], _ackedAlone.Order());

        // Fewer than the limit wait again; when the slow one finishes, one multiple ack covers it and them, and names
        // none of those acked alone.
        await _acks.AckAsync([7], CancellationToken.None);
        await _acks.AckAsync([1], CancellationToken.None);
        Assert.Equal([1UL], _acked);
        await _acks.AckAsync([6], CancellationToken.None);
        Assert.Equal([1UL, 7UL], _acked);
        Assert.Equal([2UL, 3UL, 4UL, 5UL], _ackedAlone.Order());
        Assert.Equal(1, _acks.Outstanding);
    }

    [Fact]
    public async Task A_delivery_still_being_handled_is_never_covered_by_a_later_multiple_ack()
    {
        Register(1, 2, 3);

        await _acks.AckAsync(1, CancellationToken.None);
        await _acks.AckAsync(3, CancellationToken.None);

        Assert.Equal([1UL], _acked);
        Assert.Equal(2, _acks.Outstanding);
    }

    [Fact]
    public async Task A_nacked_delivery_releases_the_line_without_an_ack_of_its_own()
    {
        Register(1, 2, 3);
        await _acks.AckAsync(3, CancellationToken.None);

        await _acks.SettledAsync(1, CancellationToken.None);
        Assert.Empty(_acked);

        await _acks.AckAsync(2, CancellationToken.None);
        Assert.Equal([3UL], _acked);
        Assert.Equal(0, _acks.Outstanding);
    }

    [Fact]
    public async Task A_run_ending_in_a_nacked_delivery_is_acked_up_to_its_last_acked_delivery()
    {
        Register(1, 2);
        await _acks.SettledAsync(2, CancellationToken.None);

        await _acks.AckAsync(1, CancellationToken.None);

        Assert.Equal([1UL], _acked);
    }

    [Fact]
    public async Task Deliveries_a_failure_left_unsettled_are_nacked_and_no_longer_hold_back_later_acks()
    {
        Register(1, 2, 3);
        await _acks.AckAsync(1, CancellationToken.None);
        await _acks.AckAsync(3, CancellationToken.None);
        var nacked = new List<ulong>();

        await _acks.ReturnUnfinishedAsync([1, 2], tag =>
        {
            nacked.Add(tag);
            return ValueTask.CompletedTask;
        }, CancellationToken.None);

        Assert.Equal([2UL], nacked);
        Assert.Equal([1UL, 3UL], _acked);
        Assert.Equal(0, _acks.Outstanding);
    }

    private void Register(params ulong[] tags)
    {
        foreach (var tag in tags)
        {
            _acks.Register(tag);
        }
    }
}
