using System.Data.Common;
using System.Globalization;
using Bazaar.Catalog.Api.Data;
using Bazaar.Data;
using Microsoft.Extensions.Options;
using MySqlConnector;

namespace Bazaar.Catalog.Api.Hosting;

/// <summary>
/// On start (after the migrations): fills an empty catalog with generated demo data, under a named lock so
/// replicas starting together seed once, then learns the highest product id.
/// </summary>
internal sealed partial class CatalogSeeder(
    MySqlDataSource dataSource,
    CatalogStore store,
    HighestProductId highestId,
    IOptions<CatalogOptions> options,
    TimeProvider time,
    ILogger<CatalogSeeder> logger) : IHostedService
{
    private static readonly SqlStatement TakeSeedLock = new("catalog.seed.get_lock", "SELECT GET_LOCK(CONCAT(DATABASE(), '.catalog-seed'), 20)");
    private static readonly SqlStatement ReleaseSeedLock = new("catalog.seed.release_lock", "SELECT RELEASE_LOCK(CONCAT(DATABASE(), '.catalog-seed'))");
    private static readonly SqlStatement AnyProduct = new("catalog.seed.any_product", "SELECT EXISTS (SELECT 1 FROM products)");
    private static readonly SqlStatement InsertBrand = new("catalog.seed.brand", "INSERT INTO brands (name, row_version, created_at, updated_at) VALUES (@brand, 1, @now, @now)");
    private static readonly SqlStatement InsertCategory = new("catalog.seed.category", "INSERT INTO categories (name, row_version, created_at, updated_at) VALUES (@category, 1, @now, @now)");
    private static readonly SqlStatement BrandIds = new("catalog.seed.brand_ids", "SELECT id, name FROM brands");
    private static readonly SqlStatement CategoryIds = new("catalog.seed.category_ids", "SELECT id, name FROM categories");

    private static readonly string[] Brands =
    [
        "Northwind", "Alpine Co", "Brightline", "Cobalt", "Driftwood", "Evergreen", "Fjord", "Granite Works",
        "Harbor", "Ironleaf", "Juniper", "Kestrel",
    ];

    private static readonly (string Name, decimal MinPrice, decimal MaxPrice, string[] Nouns)[] Categories =
    [
        ("Jackets", 49m, 399m, ["Rain Jacket", "Down Jacket", "Softshell", "Windbreaker", "Parka"]),
        ("Footwear", 39m, 249m, ["Trail Runner", "Hiking Boot", "Sandal", "Approach Shoe", "Winter Boot"]),
        ("Backpacks", 25m, 299m, ["Daypack", "Travel Pack", "Hydration Pack", "Summit Pack", "Duffel"]),
        ("Tents", 89m, 899m, ["Two-Person Tent", "Ultralight Tent", "Family Tent", "Bivy", "Tarp Shelter"]),
        ("Sleeping", 19m, 449m, ["Sleeping Bag", "Sleeping Pad", "Camp Pillow", "Quilt", "Liner"]),
        ("Cooking", 9m, 189m, ["Camp Stove", "Cook Set", "Titanium Mug", "Water Filter", "Spork"]),
        ("Climbing", 12m, 349m, ["Harness", "Dynamic Rope", "Carabiner Set", "Chalk Bag", "Belay Device"]),
        ("Lighting", 9m, 149m, ["Headlamp", "Lantern", "Flashlight", "String Lights", "Solar Light"]),
        ("Navigation", 15m, 499m, ["Compass", "GPS Watch", "Map Case", "Altimeter", "Trekking Poles"]),
        ("Accessories", 5m, 99m, ["Beanie", "Gloves", "Buff", "Sunglasses", "Gaiters"]),
    ];

    private static readonly string[] Adjectives =
    [
        "Summit", "Trail", "Ridge", "Storm", "Canyon", "Glacier", "Meadow", "Coastal", "Nomad", "Basecamp",
        "Aurora", "Boulder", "Cascade", "Tundra", "Sierra",
    ];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.SeedDemoData)
        {
            await SeedOnceAsync(cancellationToken);
        }

        highestId.Raise(await store.GetHighestProductIdAsync(cancellationToken));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task SeedOnceAsync(CancellationToken cancellationToken)
    {
        await using DbConnection connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // The lock belongs to the session: a crash releases it, but a pooled connection outlives "closing" it, so release it here.
        int locked = await connection.ExecuteScalarAsync<int>(TakeSeedLock, cancellationToken: cancellationToken, commandTimeoutSeconds: 20 + Deadlines.CommandTimeoutSeconds);
        if (locked != 1)
        {
            throw new InvalidOperationException("Could not take the catalog seed lock within 20 s; another replica holds it.");
        }

        try
        {
            await SeedIfEmptyAsync(connection, cancellationToken);
        }
        finally
        {
            await connection.ExecuteScalarAsync<int?>(ReleaseSeedLock, cancellationToken: CancellationToken.None);
        }
    }

    private async Task SeedIfEmptyAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        bool hasProducts = await connection.ExecuteScalarAsync<bool>(AnyProduct, cancellationToken: cancellationToken);
        if (hasProducts)
        {
            return;
        }

        DateTime now = time.GetUtcNow().UtcDateTime;
        await using DbTransaction transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (string brand in Brands)
        {
            await connection.ExecuteAsync(InsertBrand, new { brand, now }, transaction, cancellationToken);
        }

        foreach ((string category, _, _, _) in Categories)
        {
            await connection.ExecuteAsync(InsertCategory, new { category, now }, transaction, cancellationToken);
        }

        Dictionary<string, int> brandIds = (await connection.QueryAsync<(int Id, string Name)>(BrandIds, transaction: transaction, cancellationToken: cancellationToken))
            .ToDictionary(b => b.Name, b => b.Id);
        Dictionary<string, int> categoryIds = (await connection.QueryAsync<(int Id, string Name)>(CategoryIds, transaction: transaction, cancellationToken: cancellationToken))
            .ToDictionary(c => c.Name, c => c.Id);

        List<DemoProduct> products = Generate(options.Value.DemoProductCount, now, brandIds, categoryIds);
        await connection.ExecuteAsync(CatalogStore.InsertProduct,
            products.Select(p => new { p.Sku, p.Name, p.Description, p.Price, p.BrandId, p.CategoryId, p.AvailableStock, now = p.CreatedAt }).ToList(),
            transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogSeeded(logger, products.Count, Brands.Length, Categories.Length);
    }

    /// <summary>A fixed seed, so every fresh database holds the same demo catalog.</summary>
    internal static List<DemoProduct> Generate(int count, DateTime now, IReadOnlyDictionary<string, int> brandIds, IReadOnlyDictionary<string, int> categoryIds)
    {
        var random = new Random(20261121);
        var products = new List<DemoProduct>(count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; products.Count < count; i++)
        {
            var (category, minPrice, maxPrice, nouns) = Categories[i % Categories.Length];
            string brand = Brands[random.Next(Brands.Length)];
            string noun = nouns[random.Next(nouns.Length)];
            string adjective = Adjectives[random.Next(Adjectives.Length)];
            string name = $"{brand} {adjective} {noun}";
            if (!names.Add(name))
            {
                name = $"{name} {2 + (i / 1000)}";
                if (!names.Add(name))
                {
                    continue;
                }
            }

            // Prices end in .99 or .49 or .00, as shops price things.
            decimal whole = Math.Floor(minPrice + (decimal)random.NextDouble() * (maxPrice - minPrice));
            decimal price = whole + (random.Next(3) switch { 0 => 0.99m, 1 => 0.49m, _ => 0m });
            string sku = string.Create(CultureInfo.InvariantCulture, $"{category[..3].ToUpperInvariant()}-{brand[..3].ToUpperInvariant()}-{products.Count + 1:00000}");
            products.Add(new DemoProduct(
                sku,
                name,
                $"The {adjective} {noun.ToLowerInvariant()} from {brand}: built for {category.ToLowerInvariant()} that has to last, tested on real trails.",
                price,
                brandIds[brand],
                categoryIds[category],
                random.Next(0, 500),
                now.AddMinutes(-(count - products.Count))));
        }

        return products;
    }

    internal sealed record DemoProduct(string Sku, string Name, string Description, decimal Price, int BrandId, int CategoryId, int AvailableStock, DateTime CreatedAt);

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Seeded the demo catalog: {Products} products, {Brands} brands, {Categories} categories")]
    private static partial void LogSeeded(ILogger logger, int products, int brands, int categories);
}
