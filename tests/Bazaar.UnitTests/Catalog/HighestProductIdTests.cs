using Bazaar.Catalog.Api.Data;
using Bazaar.UnitTests.ServiceDefaults;

namespace Bazaar.UnitTests.Catalog;

public sealed class HighestProductIdTests
{
    private readonly ManualTimeProvider _clock = new();
    private int _reads;
    private int _highestInDatabase = 240;

    private Task<int> ReadHighestAsync(CancellationToken cancellationToken)
    {
        _reads++;
        return Task.FromResult(_highestInDatabase);
    }

    [Fact]
    public async Task An_id_created_where_this_replica_did_not_hear_of_it_is_found_by_reading_the_highest_id_again()
    {
        var highest = new HighestProductId(_clock);
        highest.Raise(240);
        _highestInDatabase = 241;

        Assert.True(await highest.MayExistAsync(241, ReadHighestAsync, CancellationToken.None));
        Assert.Equal(241, highest.Value);
        Assert.Equal(1, _reads);
    }

    [Fact]
    public async Task Ids_that_cannot_exist_read_the_highest_id_at_most_once_a_gap()
    {
        var highest = new HighestProductId(_clock);
        highest.Raise(240);

        for (int i = 0; i < 1_000; i++)
        {
            Assert.False(await highest.MayExistAsync(999_999 + i, ReadHighestAsync, CancellationToken.None));
        }

        Assert.Equal(1, _reads);
        Assert.True(await highest.MayExistAsync(17, ReadHighestAsync, CancellationToken.None));
        Assert.Equal(1, _reads);

        _clock.Advance(HighestProductId.MinReadGap);
        Assert.False(await highest.MayExistAsync(999_999, ReadHighestAsync, CancellationToken.None));
        Assert.Equal(2, _reads);
    }

    [Fact]
    public async Task A_failed_read_answers_from_what_is_known()
    {
        var highest = new HighestProductId(_clock);
        highest.Raise(240);

        Assert.False(await highest.MayExistAsync(241, _ => throw new TimeoutException("MySQL away"), CancellationToken.None));
        Assert.True(await highest.MayExistAsync(240, _ => throw new TimeoutException("MySQL away"), CancellationToken.None));
    }
}
