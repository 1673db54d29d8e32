using System.Net;
using System.Net.Http.Json;
using Bazaar.Caching;
using Bazaar.Catalog.Api.Apis;
using Bazaar.Catalog.Api.Model;

namespace Bazaar.IntegrationTests.Catalog;

/// <summary>The cache against the three failure modes, and invalidation across two replicas.</summary>
public sealed class CatalogCacheTests : IAsyncLifetime
{
    // An invalidation reaches the other replica over Redis pub/sub in milliseconds; the bound leaves room for a busy CI
    // machine (1 s was missed once under parallel tests) and stays well under the default L1 TTL (10 s), so a replica
    // that never hears the invalidation still fails these tests instead of passing on expiry.
    private static readonly TimeSpan InvalidationDeadline = TimeSpan.FromSeconds(4);

    private CatalogDeployment _catalog = null!;

    public async Task InitializeAsync() => _catalog = await CatalogDeployment.StartAsync(replicas: 2);

    public async Task DisposeAsync() => await _catalog.DisposeAsync();

    [Fact]
    public async Task Five_hundred_concurrent_reads_of_a_cold_hot_key_cause_at_most_one_database_query_per_replica()
    {
        const int HotId = 7;
        long[] before = _catalog.Replicas.Select(replica => replica.DatabaseQueries).ToArray();
        HttpClient[] clients = _catalog.Replicas.Select(replica => replica.CreateClient()).ToArray();

        HttpResponseMessage[] answers = await Task.WhenAll(Enumerable.Range(0, 500).Select(i =>
            clients[i % clients.Length].GetAsync($"/api/catalog/items/{HotId}")));

        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.StatusCode));
        for (int r = 0; r < _catalog.Replicas.Count; r++)
        {
            Assert.InRange(_catalog.Replicas[r].DatabaseQueries - before[r], 0, 1);
        }

        CacheStatistics stats = _catalog.Replicas[0].Cache.Metrics.Snapshot();
        Assert.True(stats.CoalescedWaits + stats.L1Hits > 0, "the other reads waited for the one load or hit L1");
    }

    [Fact]
    public async Task Ten_thousand_reads_of_absent_ids_cause_no_more_than_a_handful_of_database_queries()
    {
        using HttpClient admin = _catalog.Api.CreateAdminClient();
        int[] deleted = [11, 12, 13];
        foreach (int id in deleted)
        {
            (await admin.DeleteAsync($"/api/catalog/items/{id}")).EnsureSuccessStatusCode();
        }

        int[] absent = [.. deleted, -5, 0, 999_999, int.MaxValue, 5_000];
        CatalogApiFactory api = _catalog.Api;
        long before = api.DatabaseQueries;
        using HttpClient client = api.CreateClient();

        for (int batch = 0; batch < 100; batch++)
        {
            HttpResponseMessage[] answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(i =>
                client.GetAsync($"/api/catalog/items/{absent[(batch + i) % absent.Length]}")));
            Assert.All(answers, answer => Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode));
        }

        Assert.InRange(api.DatabaseQueries - before, 0, deleted.Length);
    }

    [Fact]
    public async Task An_admin_price_change_is_visible_on_both_replicas_within_a_second()
    {
        const int Id = 21;
        HttpClient[] readers = _catalog.Replicas.Select(replica => replica.CreateClient()).ToArray();
        CatalogItem?[] warm = await Task.WhenAll(readers.Select(reader => reader.GetFromJsonAsync<CatalogItem>($"/api/catalog/items/{Id}")));
        CatalogItem original = warm[0]!;

        using HttpClient admin = _catalog.Replicas[0].CreateAdminClient();
        decimal newPrice = original.Price + 1.25m;
        HttpResponseMessage update = await admin.PutAsJsonAsync($"/api/catalog/items/{Id}", new
        {
            original.Name, original.Description, price = newPrice, original.BrandId, original.CategoryId, original.RowVersion,
        });
        update.EnsureSuccessStatusCode();

        foreach (HttpClient reader in readers)
        {
            await Eventually.HoldsAsync(
                async () => (await reader.GetFromJsonAsync<CatalogItem>($"/api/catalog/items/{Id}"))!.Price == newPrice,
                InvalidationDeadline, "the new price is served");
        }
    }

    [Fact]
    public async Task A_list_page_cached_before_an_admin_change_is_never_served_after_it()
    {
        HttpClient[] readers = _catalog.Replicas.Select(replica => replica.CreateClient()).ToArray();
        const string Page = "/api/catalog/items?pageSize=5&sort=price";
        foreach (HttpClient reader in readers)
        {
            await reader.GetFromJsonAsync<PaginatedItems<CatalogItem>>(Page);
        }

        CatalogItem cheapest = await _catalog.CreateProductAsync(availableStock: 1, price: 0.01m, name: "Cheapest thing");

        await Eventually.HoldsAsync(async () =>
        {
            bool[] seen = await Task.WhenAll(readers.Select(async reader =>
                (await reader.GetFromJsonAsync<PaginatedItems<CatalogItem>>(Page))!.Data[0].Id == cheapest.Id));
            return seen.All(x => x);
        }, InvalidationDeadline, "both replicas list the new cheapest product first");
    }

    [Fact]
    public async Task A_product_created_on_one_replica_is_found_on_the_other()
    {
        CatalogItem created = await _catalog.CreateProductAsync(availableStock: 3, name: "Brand new");
        using HttpClient other = _catalog.Replicas[1].CreateClient();

        await Eventually.HoldsAsync(
            async () => (await other.GetAsync($"/api/catalog/items/{created.Id}")).StatusCode == HttpStatusCode.OK,
            InvalidationDeadline, "the other replica serves the new product");
    }
}
