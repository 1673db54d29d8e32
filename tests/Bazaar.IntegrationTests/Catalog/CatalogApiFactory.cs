using System.Net.Http.Headers;
using System.Net.Http.Json;
using Bazaar.Caching;
using Bazaar.Catalog.Api;
using Bazaar.Catalog.Api.Model;
using Bazaar.IntegrationTests.Auth;
using Bazaar.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Bazaar.IntegrationTests.Catalog;

/// <summary>
/// One catalog-api replica in process. Replicas of one <see cref="CatalogDeployment"/> share its database, Redis key
/// prefix and message prefix, exactly as two processes of the AppHost would.
/// </summary>
public sealed class CatalogApiFactory(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<CatalogApiEntryPoint>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach ((string key, string? value) in settings)
        {
            builder.UseSetting(key, value);
        }
    }

    public TwoLevelCache Cache => Services.GetRequiredService<TwoLevelCache>();

    /// <summary>Loads that went to MySQL through the cache on this replica so far.</summary>
    public long DatabaseQueries => Cache.Metrics.Snapshot().DatabaseQueries;

    public HttpClient CreateClient(string accessToken)
    {
        HttpClient client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return client;
    }

    public HttpClient CreateAdminClient() => CreateClient(TestTokens.Admin());

    public HttpClient CreateServiceClient() => CreateClient(TestTokens.Service("order-api"));
}

/// <summary>A catalog "deployment" for one test: a fresh database and one or more replicas over it.</summary>
public sealed class CatalogDeployment : IAsyncDisposable
{
    private CatalogDeployment(IReadOnlyList<CatalogApiFactory> replicas, IReadOnlyDictionary<string, string?> settings)
    {
        Replicas = replicas;
        Settings = settings;
    }

    /// <summary>The configuration every replica got (connection strings, key prefix, ...).</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; }

    public IReadOnlyList<CatalogApiFactory> Replicas { get; }

    public CatalogApiFactory Api => Replicas[0];

    public string DatabaseConnectionString => Settings["ConnectionStrings:catalogdb"]!;

    public string CacheKeyPrefix => Settings["Caching:KeyPrefix"]!;

    /// <summary>Starts <paramref name="replicas"/> replicas; <paramref name="adjust"/> may change any setting (null removes it).</summary>
    public static async Task<CatalogDeployment> StartAsync(int replicas = 1, Action<Dictionary<string, string?>>? adjust = null)
    {
        TestServers servers = await TestServers.SharedAsync();
        string database = await servers.CreateDatabaseAsync("catalogdb");
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:catalogdb"] = database,
            ["ConnectionStrings:cache"] = servers.RedisConnectionString,
            ["ConnectionStrings:messaging"] = servers.RabbitMqConnectionString,
            ["Caching:KeyPrefix"] = TestServers.UniqueName("catalog") + ":",
            ["Bazaar:Messaging:Prefix"] = TestServers.UniqueName("catalog") + ".",
            ["Catalog:ReservationSweepInterval"] = "00:00:00.200",
        };
        foreach ((string key, string? value) in TestTokens.Settings)
        {
            settings[key] = value;
        }

        adjust?.Invoke(settings);
        var started = new List<CatalogApiFactory>();
        for (int i = 0; i < replicas; i++)
        {
            var factory = new CatalogApiFactory(settings);
            _ = factory.Server; // start now, so a failing start fails here
            started.Add(factory);
        }

        return new CatalogDeployment(started, settings);
    }

    /// <summary>Creates a product through the admin API and returns it.</summary>
    public async Task<CatalogItem> CreateProductAsync(int availableStock, decimal price = 10m, string? name = null)
    {
        using HttpClient admin = Api.CreateAdminClient();
        HttpResponseMessage response = await admin.PostAsJsonAsync("/api/catalog/items", new
        {
            sku = TestServers.UniqueName("sku"),
            name = name ?? "Test product",
            description = "Made by a test.",
            price,
            brandId = 1,
            categoryId = 1,
            availableStock,
        });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<CatalogItem>())!;
    }

    public async Task<StockLevel> GetStockAsync(int productId)
    {
        using HttpClient admin = Api.CreateAdminClient();
        return (await admin.GetFromJsonAsync<StockLevel>($"/api/catalog/items/{productId}/stock"))!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (CatalogApiFactory replica in Replicas)
        {
            await replica.DisposeAsync();
        }
    }
}
