using Bazaar.Order.Api.Apis;
using static Bazaar.IntegrationTests.Order.OrderSystem;

namespace Bazaar.IntegrationTests.Order;

/// <summary>The worker stopped in the middle of a batch of orders and started again: every order ends, stock and money add up.</summary>
[Collection(OrderSystemCollection.Name)]
public sealed class CrashResilienceTests : IAsyncLifetime
{
    private const int Orders = 200;
    private OrderSystem _system = null!;

    // A slow provider keeps payments in flight when the worker goes; no shutdown grace, so in-flight steps are cut off mid-way.
    public async Task InitializeAsync() => _system = await OrderSystem.StartAsync(adjustWorker: settings =>
    {
        settings["Payments:Latency"] = "00:00:00.040";
        settings["Payments:CallTimeout"] = "00:00:05";
        settings["Saga:PaymentTimeout"] = "00:05:00";
        settings["shutdownTimeoutSeconds"] = "0";
    });

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact(Skip = "Hangs in this in-process form (stopping the worker host without grace, then starting another in the same process); being reworked to kill a real worker process.")]
    public async Task A_worker_stopped_mid_batch_and_started_again_brings_every_order_to_Paid_and_charges_each_once()
    {
        int product = await _system.CreateProductAsync(stock: Orders + 100);
        Guid[] orders = await _system.PlaceOneEachAsync(product, Orders, "crash-buyer");

        await Poll.UntilAsync(async () => (await _system.CountByStatusAsync(orders)).GetValueOrDefault("Paid") >= 20,
            TimeSpan.FromSeconds(60), "some orders were paid before the worker stops");
        int paidBefore = 0;
        await _system.RestartWorkerAsync(async () => paidBefore = (await _system.CountByStatusAsync(orders)).GetValueOrDefault("Paid"));
        Assert.True(paidBefore < Orders, "The worker had finished before it was stopped; the test proves nothing.");

        Dictionary<string, int> byStatus = [];
        await Poll.UntilAsync(async () => (byStatus = await _system.CountByStatusAsync(orders)).GetValueOrDefault("Paid") == Orders,
            TimeSpan.FromSeconds(120), () => "every order reached Paid after the restart; they are " + string.Join(", ", byStatus.Select(pair => $"{pair.Value} {pair.Key}")));
        Assert.Equal((100, 0), await _system.StockAsync(product));
        Dictionary<string, int> charges = await _system.HeldChargesAsync();
        Assert.All(orders, id => Assert.Equal(1, charges.GetValueOrDefault(id.ToString("N"))));
    }
}
