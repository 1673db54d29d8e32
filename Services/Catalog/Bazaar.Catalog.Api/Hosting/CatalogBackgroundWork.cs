using Bazaar.Catalog.Api.Data;
using Bazaar.Catalog.Api.Stock;
using Microsoft.Extensions.Options;

namespace Bazaar.Catalog.Api.Hosting;

/// <summary>
/// Releases reservations that were not committed before their expiry. Several replicas may sweep at once:
/// each release re-checks state and expiry under a row lock, so a reservation is released once.
/// </summary>
internal sealed partial class ReservationExpirySweeper(
    StockLedger ledger, IOptions<CatalogOptions> options, TimeProvider time, ILogger<ReservationExpirySweeper> logger) : BackgroundService
{
    private const int BatchSize = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ReservationSweepInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                IReadOnlyList<string> expired;
                do
                {
                    expired = await ledger.FindExpiredAsync(BatchSize, stoppingToken);
                    foreach (string reservationId in expired)
                    {
                        await ledger.ExpireAsync(reservationId, stoppingToken);
                    }
                }
                while (expired.Count == BatchSize);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // The database may be briefly away; the next tick tries again and nothing is lost meanwhile.
                LogSweepFailed(logger, exception);
            }
        }
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "Sweeping expired reservations failed; retrying on the next tick")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}

/// <summary>Re-reads the highest product id now and then (creates on other replicas usually arrive through pub/sub).</summary>
internal sealed partial class HighestProductIdRefresher(
    CatalogStore store, HighestProductId highestId, IOptions<CatalogOptions> options, TimeProvider time, ILogger<HighestProductIdRefresher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.HighestIdRefreshInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                highestId.Raise(await store.GetHighestProductIdAsync(stoppingToken));
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogRefreshFailed(logger, exception);
            }
        }
    }

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Reading the highest product id failed; retrying on the next tick")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
