using System.Diagnostics.Metrics;
using Bazaar.Caching;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Bazaar.UnitTests.Caching;

/// <summary>The in-process behaviour of the cache (no Redis configured: L1 and the loader only).</summary>
public sealed class TwoLevelCacheTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task Concurrent_misses_on_one_key_share_one_load()
    {
        using TwoLevelCache cache = CreateCache();
        int loads = 0;
        var release = new TaskCompletionSource();

        Task<Product?>[] reads = Enumerable.Range(0, 100).Select(_ => cache.GetOrCreateAsync("items:1", async _ =>
        {
            Interlocked.Increment(ref loads);
            await release.Task;
            return new Product(1, "Tent");
        }, CancellationToken.None).AsTask()).ToArray();
        release.SetResult();
        Product?[] answers = await Task.WhenAll(reads);

        Assert.Equal(1, loads);
        Assert.All(answers, answer => Assert.Equal(new Product(1, "Tent"), answer));
        Assert.Equal(99, cache.Metrics.Snapshot().CoalescedWaits);
    }

    [Fact]
    public async Task An_absent_value_is_remembered_so_the_loader_is_asked_once()
    {
        using TwoLevelCache cache = CreateCache();
        int loads = 0;

        for (int i = 0; i < 1000; i++)
        {
            Product? answer = await cache.GetOrCreateAsync<Product>("items:404", _ =>
            {
                loads++;
                return Task.FromResult<Product?>(null);
            }, CancellationToken.None);
            Assert.Null(answer);
        }

        Assert.Equal(1, loads);
        Assert.Equal(1, cache.Metrics.Snapshot().DatabaseQueries);
    }

    [Fact]
    public async Task An_invalidated_key_is_loaded_again()
    {
        using TwoLevelCache cache = CreateCache();
        int version = 0;
        Func<CancellationToken, Task<Product?>> load = _ => Task.FromResult<Product?>(new Product(1, "v" + ++version));

        Product? first = await cache.GetOrCreateAsync("items:1", load, CancellationToken.None);
        Product? cached = await cache.GetOrCreateAsync("items:1", load, CancellationToken.None);
        await cache.InvalidateAsync("items:1", CancellationToken.None);
        Product? reloaded = await cache.GetOrCreateAsync("items:1", load, CancellationToken.None);

        Assert.Equal("v1", first!.Name);
        Assert.Equal("v1", cached!.Name);
        Assert.Equal("v2", reloaded!.Name);
    }

    [Fact]
    public async Task A_failed_load_reaches_every_waiter_and_is_not_remembered()
    {
        using TwoLevelCache cache = CreateCache();
        var release = new TaskCompletionSource();
        Task<Product?>[] reads = Enumerable.Range(0, 10).Select(_ => cache.GetOrCreateAsync<Product>("items:1", async _ =>
        {
            await release.Task;
            throw new InvalidOperationException("database down");
        }, CancellationToken.None).AsTask()).ToArray();
        release.SetResult();

        foreach (Task<Product?> read in reads)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => read);
        }

        Product? recovered = await cache.GetOrCreateAsync("items:1", _ => Task.FromResult<Product?>(new Product(1, "Tent")), CancellationToken.None);
        Assert.NotNull(recovered);
    }

    [Fact]
    public async Task Turned_off_every_read_goes_to_the_loader()
    {
        using TwoLevelCache cache = CreateCache(options => options.Enabled = false);
        int loads = 0;

        for (int i = 0; i < 5; i++)
        {
            await cache.GetOrCreateAsync("items:1", _ => Task.FromResult<Product?>(new Product(1, "load " + ++loads)), CancellationToken.None);
        }

        Assert.Equal(5, loads);
    }

    [Fact]
    public async Task Bumping_a_version_gives_list_keys_a_new_name()
    {
        using TwoLevelCache cache = CreateCache();

        string before = await cache.GetVersionAsync("lists", CancellationToken.None);
        string again = await cache.GetVersionAsync("lists", CancellationToken.None);
        await cache.BumpVersionAsync("lists", CancellationToken.None);
        string after = await cache.GetVersionAsync("lists", CancellationToken.None);

        Assert.Equal(before, again);
        Assert.NotEqual(before, after);
    }

    [Fact]
    public async Task Another_replicas_invalidation_drops_the_key_but_an_echo_of_our_own_is_ignored()
    {
        using TwoLevelCache cache = CreateCache();
        var dropped = new List<string>();
        cache.KeyInvalidated += dropped.Add;
        await cache.GetOrCreateAsync("items:1", _ => Task.FromResult<Product?>(new Product(1, "Tent")), CancellationToken.None);

        cache.OnInvalidationMessage("someotherreplica items:1");
        cache.OnInvalidationMessage("malformed");

        Assert.Equal(["items:1"], dropped);
    }

    [Fact]
    public async Task The_L1_level_holds_no_more_entries_than_its_bound()
    {
        using TwoLevelCache cache = CreateCache(options => options.L1MaxEntries = 10);
        int loads = 0;

        for (int i = 0; i < 50; i++)
        {
            await cache.GetOrCreateAsync($"items:{i}", _ => Task.FromResult<Product?>(new Product(++loads, "x")), CancellationToken.None);
        }

        for (int i = 0; i < 50; i++)
        {
            await cache.GetOrCreateAsync($"items:{i}", _ => Task.FromResult<Product?>(new Product(++loads, "x")), CancellationToken.None);
        }

        Assert.True(loads > 50, "entries beyond the bound were not kept, so reading them again loads again");
    }

    [Fact]
    public async Task Hits_misses_and_database_queries_are_published_on_the_Bazaar_Caching_meter()
    {
        using TwoLevelCache cache = CreateCache();
        var measurements = new List<(string Instrument, long Value, string? Level)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == CacheMetrics.MeterName && instrument.Meter.Scope == _services.GetRequiredService<IMeterFactory>())
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? level = null;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                level = tag.Key == "level" ? tag.Value as string : level;
            }

            lock (measurements)
            {
                measurements.Add((instrument.Name, value, level));
            }
        });
        listener.Start();

        await cache.GetOrCreateAsync("items:1", _ => Task.FromResult<Product?>(new Product(1, "Tent")), CancellationToken.None);
        await cache.GetOrCreateAsync("items:1", _ => Task.FromResult<Product?>(new Product(1, "Tent")), CancellationToken.None);

        Assert.Contains(("bazaar.cache.misses", 1L, "l1"), measurements);
        Assert.Contains(("bazaar.cache.db_queries", 1L, (string?)null), measurements);
        Assert.Contains(("bazaar.cache.hits", 1L, "l1"), measurements);
    }

    private TwoLevelCache CreateCache(Action<TwoLevelCacheOptions>? configure = null)
    {
        var options = new TwoLevelCacheOptions();
        configure?.Invoke(options);
        return new TwoLevelCache(
            Options.Create(options),
            new CacheMetrics(_services.GetRequiredService<IMeterFactory>()),
            TimeProvider.System,
            NullLogger<TwoLevelCache>.Instance);
    }

    public sealed record Product(int Id, string Name);
}
