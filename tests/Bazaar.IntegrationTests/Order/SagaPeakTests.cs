using Bazaar.Worker.Saga;
using Microsoft.Extensions.DependencyInjection;

namespace Bazaar.IntegrationTests.Order;

/// <summary>
/// Saga:Yield on the real servers: order-api's placement pace reaches the worker through Redis, the saga takes turns while
/// placement is at its peak, and catches up afterwards.
/// </summary>
[Collection(OrderSystemCollection.Name)]
public sealed class SagaPeakTests : IAsyncLifetime
{
    private const int Buyers = 60;
    private OrderSystem _system = null!;

    public async Task InitializeAsync() => _system = await OrderSystem.StartAsync(
        adjustOrders: settings => settings["Orders:Pace:FlushInterval"] = "00:00:00.050",
        adjustWorker: settings =>
        {
            settings["Saga:Yield:PeakPlacements"] = "20";
            settings["Saga:Yield:CheckInterval"] = "00:00:00.050";
            // Orders wait their turn behind the burst; the payment timeout is for buyers who never pay, not for that queue.
            settings["Saga:PaymentTimeout"] = "00:05:00";
            // Nor is the call timeout (0.5 s in these tests): at load 25 one charge took longer, and its order waited in
            // StockReserved for the payment timeout ("59 Paid, 1 StockReserved" after 90 s).
            settings["Payments:CallTimeout"] = "00:00:30";
        });

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task During_a_burst_of_placements_the_saga_yields_and_afterwards_every_order_still_ends_paid()
    {
        int product = await _system.CreateProductAsync(stock: Buyers);
        SagaYield yielding = _system.Worker.Services.GetRequiredService<SagaYield>();
        bool sawPeak = false;
        using var stopWatching = new CancellationTokenSource();
        Task watcher = Task.Run(async () =>
        {
            while (!stopWatching.IsCancellationRequested)
            {
                sawPeak |= yielding.IsYielding;
                await Task.Delay(5, CancellationToken.None);
            }
        });

        Guid[] orders = await _system.PlaceOneEachAsync(product, Buyers, "peak-buyer");

        await Poll.UntilAsync(() => Task.FromResult(sawPeak), TimeSpan.FromSeconds(10), "the worker saw the burst as a placement peak");
        Dictionary<string, int> byStatus = [];
        await Poll.UntilAsync(async () =>
        {
            byStatus = await _system.CountByStatusAsync(orders);
            return byStatus.GetValueOrDefault("Paid") == Buyers;
        }, TimeSpan.FromSeconds(90), () => "every order of the burst is Paid; they are " + string.Join(", ", byStatus.Select(pair => $"{pair.Value} {pair.Key}")));
        await Poll.UntilAsync(() => Task.FromResult(!yielding.IsYielding), TimeSpan.FromSeconds(10), "the peak is over once placements stop");
        await stopWatching.CancelAsync();
        await watcher;
        Assert.Equal((0, 0), await _system.StockAsync(product));
    }
}
