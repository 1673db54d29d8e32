using Bazaar.Hosting;

namespace Bazaar.UnitTests.Hosting;

public sealed class RestartBackoffTests
{
    [Fact]
    public void The_delay_doubles_with_each_consecutive_crash_until_the_cap()
    {
        TimeSpan first = TimeSpan.FromSeconds(1);
        TimeSpan cap = TimeSpan.FromSeconds(30);

        IEnumerable<double> delays = Enumerable.Range(1, 8).Select(n => RestartBackoff.Delay(n, first, cap).TotalSeconds);

        Assert.Equal([1, 2, 4, 8, 16, 30, 30, 30], delays);
    }

    [Fact]
    public void A_thousand_crashes_in_a_row_wait_the_cap_and_do_not_overflow()
    {
        Assert.Equal(TimeSpan.FromMinutes(1), RestartBackoff.Delay(1000, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public void There_is_no_delay_before_the_first_crash()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RestartBackoff.Delay(0, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)));
    }
}
