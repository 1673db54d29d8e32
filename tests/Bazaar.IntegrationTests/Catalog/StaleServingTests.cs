using System.Net.Http.Json;
using Bazaar.Catalog.Api.Model;
using StackExchange.Redis;

namespace Bazaar.IntegrationTests.Catalog;

/// <summary>Breakdown across replicas: while one replica holds the rebuild lock of an expired key, the others serve the stale copy.</summary>
public sealed class StaleServingTests : IAsyncLifetime
{
    private CatalogDeployment _catalog = null!;

    public async Task InitializeAsync() => _catalog = await CatalogDeployment.StartAsync(replicas: 2, adjust: settings =>
    {
        settings["Caching:L2Ttl"] = "00:00:01";
        settings["Caching:L1Ttl"] = "00:00:00.100";
        settings["Caching:TtlJitter"] = "0";
        settings["Caching:StaleWindow"] = "00:05:00";
        // A Redis call that times out on a busy machine rightly degrades to the database; this test is about the lock.
        settings["Caching:RedisTimeout"] = "00:00:10";
    });

    public async Task DisposeAsync() => await _catalog.DisposeAsync();

    [Fact]
    public async Task While_another_replica_rebuilds_an_expired_key_this_one_serves_the_stale_copy_without_a_database_query()
    {
        const int Id = 9;
        CatalogApiFactory first = _catalog.Replicas[0];
        CatalogApiFactory second = _catalog.Replicas[1];
        await Eventually.HoldsAsync(() => Task.FromResult(first.Cache.IsL2Available && second.Cache.IsL2Available),
            TimeSpan.FromSeconds(10), "both replicas are connected to Redis");
        CatalogItem original = (await first.CreateClient().GetFromJsonAsync<CatalogItem>($"/api/catalog/items/{Id}"))!;

        // Stand in for a replica that is in the middle of rebuilding the key: hold its rebuild lock.
        using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(_catalog.Settings["ConnectionStrings:cache"]!);
        Assert.True(await redis.GetDatabase().KeyExistsAsync($"{_catalog.CacheKeyPrefix}items:{Id}"), "the first read wrote the L2 copy");
        Assert.True(await redis.GetDatabase().StringSetAsync($"{_catalog.CacheKeyPrefix}lock:items:{Id}", "another-replica", TimeSpan.FromMinutes(1), When.NotExists));
        using HttpClient reader = second.CreateClient();
        long queriesBefore = second.DatabaseQueries;

        await Eventually.HoldsAsync(async () =>
        {
            CatalogItem served = (await reader.GetFromJsonAsync<CatalogItem>($"/api/catalog/items/{Id}"))!;
            Assert.Equal(original, served);
            return second.Cache.Metrics.Snapshot().StaleServed > 0;
        }, TimeSpan.FromSeconds(10), "the second replica serves the expired copy while the lock is held");

        Assert.Equal(0, second.Cache.Metrics.Snapshot().RedisErrors);
        Assert.Equal(queriesBefore, second.DatabaseQueries);
        Assert.True(second.Cache.Metrics.Snapshot().LockContention > 0);
    }
}
