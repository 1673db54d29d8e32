using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Ordering;

namespace Bazaar.IntegrationTests.Order;

/// <summary>
/// A payment provider that does not answer holds its own order for the call timeout, and no other: the orders placed
/// with it (which share its consumer batch until it hands the payment over, Payments:HandOverAfter, 2 s), and the
/// hundreds placed after it, are paid while it still waits.
/// </summary>
[Collection(OrderSystemCollection.Name)]
public sealed class PaymentIsolationTests : IAsyncLifetime
{
    // More than the worker's prefetch (8 transactions x 32): deliveries left unacknowledged behind the waiting step would
    // stop the broker from delivering before the last of these.
    private const int Buyers = 300;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);
    private OrderSystem _system = null!;

    public async Task InitializeAsync() => _system = await OrderSystem.StartAsync(adjustWorker: settings =>
    {
        settings["Payments:CallTimeout"] = CallTimeout.ToString();
        settings["Saga:PaymentTimeout"] = "00:10:00";
    });

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task Orders_are_paid_while_another_order_waits_for_a_payment_that_never_answers()
    {
        int product = await _system.CreateProductAsync(stock: Buyers + 10);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using HttpClient waiting = _system.CustomerClient("isolation-no-answer");
        OrderAccepted first = await OrderSystem.PlaceAcceptedAsync(waiting, OrderSystem.OrderBody(product, paymentMethod: "test-timeout"));
        // Its step has reserved the unit and now waits on the provider.
        await Poll.UntilAsync(async () => (await _system.StockAsync(product)).Reserved == 1, TimeSpan.FromSeconds(15), "the first order's stock is reserved");

        // The burst, with more orders whose payment never answers among it (placed at the same moment, so some share a
        // consumer batch with the burst's orders).
        Task<Guid[]> burst = _system.PlaceOneEachAsync(product, Buyers, "isolation-buyer");
        Task<OrderAccepted[]> alsoWaiting = Task.WhenAll(Enumerable.Range(0, 3).Select(async n =>
        {
            using HttpClient buyer = _system.CustomerClient($"isolation-no-answer-{n}");
            return await OrderSystem.PlaceAcceptedAsync(buyer, OrderSystem.OrderBody(product, paymentMethod: "test-timeout"));
        }));
        Guid[] orders = await burst;
        await alsoWaiting;

        Dictionary<string, int> byStatus = [];
        await Poll.UntilAsync(async () =>
        {
            byStatus = await _system.CountByStatusAsync(orders);
            return byStatus.GetValueOrDefault("Paid") == Buyers;
        }, CallTimeout / 2, () => $"every order of the burst is Paid within {CallTimeout.TotalSeconds / 2:0} s; they are "
            + string.Join(", ", byStatus.Select(pair => $"{pair.Value} {pair.Key}")));

        Assert.True(clock.Elapsed < CallTimeout, $"The burst was paid after {clock.Elapsed.TotalSeconds:0} s, not before the first call timed out.");
        // Handed over: its stock stays reserved while a step of its own still waits for the provider.
        Assert.Equal(OrderStatus.StockReserved, (await OrderSystem.GetOrderAsync(waiting, first.OrderId)).Status);
    }
}
