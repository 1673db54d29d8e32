using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MySqlConnector;
using Bazaar.Hosting.Lifecycle;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Dapper;

namespace Bazaar.EndToEndTests.Platform;

/// <summary>Issue 6's crash resilience through the real processes: the worker is killed with SIGKILL while orders flow.</summary>
public sealed partial class WholeApplicationTests
{
    private const int CrashOrders = 200;
    private const int CrashStockLeft = 100;
    private static readonly TimeSpan AllPaidDeadline = TimeSpan.FromMinutes(2);

    private async Task A_worker_killed_in_the_middle_of_200_orders_loses_none_charges_each_once_and_conserves_stock(BazaarAppHost host)
    {
        string admin = await _shop.LoginAsync(BazaarAppHost.AdminEmail, _adminPassword);
        string buyer = await _shop.RegisterAndLoginAsync();
        int product = await CreateProductAsync(admin, stock: CrashOrders + CrashStockLeft);
        var orderDb = new MySqlDataSource((await host.App.GetConnectionStringAsync("orderdb"))!);
        // Placement queues behind the endpoint's concurrency limit while the worker competes for the two cores.
        using var placing = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };

        // The first half is still being placed, and the first of it paid, when the worker dies; the second half is
        // placed while it is down or starting again. Some orders are then mid-saga (stock reserved, payment in flight,
        // messages unacknowledged), others not yet begun.
        Task<string[]> firstHalf = PlaceManyAsync(new ShopClient(host, placing), buyer, product, CrashOrders / 2);
        Dictionary<string, int> atKill = [];
        await PollAsync(async () => (atKill = await CountByStatusAsync(orderDb, product)).GetValueOrDefault("Paid") > 0,
            TimeSpan.FromSeconds(60), () => "an order of the batch was paid before the worker is killed: " + Describe(atKill));
        ResourceState worker = await host.KillAsync("worker");
        atKill = await CountByStatusAsync(orderDb, product);
        output.WriteLine($"Worker killed with its orders at: {Describe(atKill)}.");
        string[] orders = [.. await firstHalf, .. await PlaceManyAsync(new ShopClient(host, placing), buyer, product, CrashOrders / 2)];
        ResourceState restarted = await host.WaitForRestartAsync(worker, RestartDeadline);
        Assert.True(restarted.Restarts >= 1, "/api/resources counts the worker's restart");

        var clock = Stopwatch.StartNew();
        Dictionary<string, int> byStatus = [];
        await PollAsync(async () => (byStatus = await CountByStatusAsync(orderDb, product)).GetValueOrDefault("Paid") == CrashOrders,
            AllPaidDeadline, () => $"every order reached Paid after the worker came back; they are {Describe(byStatus)}");
        output.WriteLine($"All {CrashOrders} orders Paid {clock.Elapsed.TotalSeconds:0.0} s after the worker was back.");

        Assert.True(atKill.GetValueOrDefault("Paid") < CrashOrders, "The worker had finished before it was killed; the step proves nothing.");
        Assert.Equal(CrashOrders, orders.Distinct().Count());
        Assert.Equal(CrashOrders, byStatus.Values.Sum());
        (int available, int reserved) = await StockAsync(admin, product);
        Assert.Equal(CrashOrders + CrashStockLeft, available + reserved + CrashOrders);
        Assert.Equal((CrashStockLeft, 0), (available, reserved));
        await Every_order_was_charged_exactly_once_for_its_total(orderDb, orders);
    }

    /// <summary>
    /// The simulated provider's ledger (orderdb.simulated_payment_charges, keyed by the order id) holds one charge per
    /// order, still held and of the order's total: a charge repeated after the crash answered from the first, and none
    /// was refunded or taken twice.
    /// </summary>
    private static async Task Every_order_was_charged_exactly_once_for_its_total(MySqlDataSource orderDb, string[] orders)
    {
        await using DbConnection connection = await orderDb.OpenConnectionAsync();
        Dictionary<string, decimal> totals = (await connection.QueryAsync<(string Id, decimal Total)>(
            "SELECT id, total FROM orders WHERE id IN @orders", new { orders })).ToDictionary(o => o.Id, o => o.Total);
        List<(string Key, string State, decimal Amount)> charges = (await connection.QueryAsync<(string Key, string State, decimal Amount)>(
            "SELECT idempotency_key, state, amount FROM simulated_payment_charges WHERE idempotency_key IN @orders", new { orders })).ToList();

        Assert.Equal(orders.Length, totals.Count);
        Assert.Equal(orders.Order(), charges.Select(c => c.Key).Order());
        Assert.All(charges, charge =>
        {
            Assert.Equal("Charged", charge.State);
            Assert.Equal(totals[charge.Key], charge.Amount);
        });
    }

    /// <summary>One order of one unit each, all at once, by one buyer; returns their ids.</summary>
    private static Task<string[]> PlaceManyAsync(ShopClient shop, string buyer, int product, int count) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(_ => shop.PlaceOrderAsync(buyer, product)));

    /// <summary>The statuses of every order of <paramref name="product"/>, straight from orderdb (no HTTP, so no traces).</summary>
    private static async Task<Dictionary<string, int>> CountByStatusAsync(MySqlDataSource orderDb, int product)
    {
        await using DbConnection connection = await orderDb.OpenConnectionAsync();
        IEnumerable<(string Status, int Count)> rows = await connection.QueryAsync<(string Status, int Count)>(
            "SELECT o.status, COUNT(*) FROM orders o JOIN order_items i ON i.order_id = o.id WHERE i.product_id = @product GROUP BY o.status",
            new { product });
        return rows.ToDictionary(row => row.Status, row => row.Count);
    }

    private static string Describe(Dictionary<string, int> byStatus) =>
        byStatus.Count == 0 ? "none yet" : string.Join(", ", byStatus.OrderBy(pair => pair.Key).Select(pair => $"{pair.Value} {pair.Key}"));

    private async Task<int> CreateProductAsync(string admin, int stock)
    {
        using var create = new HttpRequestMessage(HttpMethod.Post, _shop.ServiceUri("catalog-api-0", "/api/catalog/items"))
        {
            Content = JsonContent.Create(new
            {
                sku = "e2e-" + Guid.NewGuid().ToString("N"),
                name = "Crash-test product",
                description = "Made by the end-to-end test.",
                price = 12.50m,
                brandId = 1,
                categoryId = 1,
                availableStock = stock,
            }),
        };
        create.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);
        using HttpResponseMessage created = await _http.SendAsync(create);
        Assert.True(created.StatusCode == HttpStatusCode.Created, $"creating a product: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
    }

    private async Task<(int Available, int Reserved)> StockAsync(string admin, int product)
    {
        using HttpResponseMessage response = await _shop.SendAsync("catalog-api-1", "GET", $"/api/catalog/items/{product}/stock", admin);
        JsonElement stock = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (stock.GetProperty("availableStock").GetInt32(), stock.GetProperty("reservedStock").GetInt32());
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> (asked only then) after the deadline.</summary>
    private static async Task PollAsync(Func<Task<bool>> condition, TimeSpan deadline, Func<string> what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < deadline, $"Still not true after {deadline.TotalSeconds:0} s: {what()}");
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }
    }
}
