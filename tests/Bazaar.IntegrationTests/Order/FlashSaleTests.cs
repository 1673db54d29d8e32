using System.Net.Http.Json;
using Bazaar.Order.Api.Apis;
using static Bazaar.IntegrationTests.Order.OrderSystem;

namespace Bazaar.IntegrationTests.Order;

/// <summary>A flash sale: many more buyers than units, all at once. Exactly the stock is sold; nobody else is charged.</summary>
[Collection(OrderSystemCollection.Name)]
public sealed class FlashSaleTests : IAsyncLifetime
{
    private const int Buyers = 500;
    private const int Stock = 50;
    private OrderSystem _system = null!;

    // Payments queue behind hundreds of reservations in a burst; the payment timeout is for buyers who never pay, not for that
    // queue. Nor is the call timeout (0.5 s in these tests): on a loaded machine a charge can take longer, and the order would
    // then wait in StockReserved for the 5-minute payment timeout.
    public async Task InitializeAsync() => _system = await OrderSystem.StartAsync(adjustWorker: settings =>
    {
        settings["Saga:PaymentTimeout"] = "00:05:00";
        settings["Payments:CallTimeout"] = "00:00:30";
    });

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task Five_hundred_buyers_for_fifty_units_buy_exactly_fifty_and_the_rest_are_rejected_uncharged()
    {
        OrderSystem system = _system;
        int product = await system.CreateProductAsync(stock: Stock);

        Guid[] orders = await system.PlaceOneEachAsync(product, Buyers, "flash-buyer");

        Dictionary<string, int> byStatus = [];
        await Poll.UntilAsync(async () =>
        {
            byStatus = await system.CountByStatusAsync(orders);
            return byStatus.GetValueOrDefault("Paid") + byStatus.GetValueOrDefault("Rejected") == Buyers;
        }, TimeSpan.FromSeconds(120), () => "every order of the sale is Paid or Rejected; they are " + string.Join(", ", byStatus.Select(pair => $"{pair.Value} {pair.Key}")));

        Assert.Equal(Stock, byStatus["Paid"]);
        Assert.Equal(Buyers - Stock, byStatus["Rejected"]);
        Assert.Equal((0, 0), await system.StockAsync(product));
        Dictionary<string, int> charges = await system.HeldChargesAsync();
        Dictionary<string, int> paid = await PaidOrdersAsync(system, orders);
        Assert.Equal(Stock, charges.Keys.Intersect(orders.Select(id => id.ToString("N"))).Count());
        Assert.All(orders.Select(id => id.ToString("N")).Where(charges.ContainsKey), id => Assert.True(paid.ContainsKey(id), $"order {id} was charged but not paid"));
    }

    private static async Task<Dictionary<string, int>> PaidOrdersAsync(OrderSystem system, Guid[] orders)
    {
        using HttpClient admin = system.AdminClient();
        var paid = new Dictionary<string, int>();
        for (int page = 0; ; page++)
        {
            PaginatedItems<OrderSummary>? items = await admin.GetFromJsonAsync<PaginatedItems<OrderSummary>>($"/api/orders?status=Paid&pageSize=100&pageIndex={page}");
            foreach (OrderSummary order in items!.Data)
            {
                paid[order.OrderId.ToString("N")] = 1;
            }

            if (items.Data.Count < 100)
            {
                return paid;
            }
        }
    }
}
