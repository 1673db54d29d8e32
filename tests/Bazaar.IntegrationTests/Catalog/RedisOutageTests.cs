using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bazaar.Catalog.Api.Model;
using Bazaar.Testing;

namespace Bazaar.IntegrationTests.Catalog;

/// <summary>The catalog on a Redis of its own, which the test stops and starts.</summary>
public sealed class RedisOutageTests : IAsyncLifetime
{
    private TestServers _redis = null!;
    private CatalogDeployment _catalog = null!;

    public async Task InitializeAsync()
    {
        _redis = await TestServers.StartDedicatedAsync(redis: true, rabbitMq: false, mySql: false);
        _catalog = await CatalogDeployment.StartAsync(adjust: settings => settings["ConnectionStrings:cache"] = _redis.RedisConnectionString);
    }

    public async Task DisposeAsync()
    {
        await _catalog.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Reads_keep_working_while_Redis_is_down_and_caching_resumes_when_it_is_back()
    {
        using HttpClient client = _catalog.Api.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/catalog/items/1")).StatusCode);

        await _redis.StopServerAsync(TestServers.Redis);

        for (int id = 1; id <= 50; id++)
        {
            HttpResponseMessage item = await client.GetAsync($"/api/catalog/items/{id}");
            Assert.Equal(HttpStatusCode.OK, item.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/catalog/items?pageSize=20&sort=newest")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/catalog/items/999999")).StatusCode);
        Assert.Equal("Degraded", await HealthStatusAsync(client));

        await _redis.StartServerAsync(TestServers.Redis);

        await Eventually.HoldsAsync(async () => await HealthStatusAsync(client) == "Healthy", TimeSpan.FromSeconds(30), "health is Healthy again");
        long l2HitsBefore = _catalog.Api.Cache.Metrics.Snapshot().L2Hits;
        await Eventually.HoldsAsync(async () =>
        {
            // A key read on another replica would come from Redis: here, the L1 copy is dropped first so only L2 can answer.
            await client.GetFromJsonAsync<CatalogItem>("/api/catalog/items/60");
            _catalog.Api.Cache.DropFromL1("items:60");
            await client.GetFromJsonAsync<CatalogItem>("/api/catalog/items/60");
            return _catalog.Api.Cache.Metrics.Snapshot().L2Hits > l2HitsBefore;
        }, TimeSpan.FromSeconds(30), "reads are answered from Redis again");
    }

    private static async Task<string?> HealthStatusAsync(HttpClient client)
    {
        HttpResponseMessage response = await client.GetAsync("/health");
        using JsonDocument health = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return health.RootElement.GetProperty("status").GetString();
    }
}
