using Bazaar.Messaging;

namespace Bazaar.UnitTests.Messaging;

public sealed class RelayLeaseTests
{
    [Fact]
    public void A_lock_name_carries_the_database_name_when_it_fits()
    {
        Assert.Equal("bazaar.outbox.orderdb", RelayLease.LockName("orderdb"));
    }

    [Fact]
    public void A_database_name_too_long_for_a_lock_name_is_hashed_to_one_that_fits_and_stays_distinct()
    {
        var first = RelayLease.LockName(new string('a', 64));
        var second = RelayLease.LockName(new string('a', 63) + "b");

        Assert.True(first.Length <= 64, first);
        Assert.True(second.Length <= 64, second);
        Assert.NotEqual(first, second);
    }
}
