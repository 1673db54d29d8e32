using System.Globalization;
using Bazaar.Data;
using Bazaar.Order.Api.Ordering;
using Microsoft.Extensions.Options;
using MySqlConnector;

namespace Bazaar.Worker.Saga;

/// <summary>
/// Cancels orders that waited for payment longer than <see cref="SagaOptions.PaymentTimeout"/> after their stock was
/// reserved; the cancellation's event releases the stock. Each order moves under its row lock with its age checked
/// again, so several worker replicas sweeping together cancel each order once, and an order that got paid meanwhile stays paid.
/// </summary>
internal sealed partial class PaymentTimeoutSweeper(
    MySqlDataSource database, OrderLedger ledger, IOptions<SagaOptions> options, TimeProvider time, ILogger<PaymentTimeoutSweeper> logger) : PeriodicWork(time, logger)
{
    private static readonly SqlStatement Overdue = new("orders.select_overdue_payments", """
        SELECT id FROM orders WHERE status = 'StockReserved' AND status_changed_at <= @cutoff ORDER BY status_changed_at LIMIT 100
        """);

    protected override TimeSpan Interval => options.Value.SweepInterval;

    protected override async Task<bool> RunOnceAsync(CancellationToken cancellationToken) => await SweepAsync(cancellationToken) == 100;

    internal async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        TimeSpan timeout = options.Value.PaymentTimeout;
        DateTime cutoff = (Time.GetUtcNow() - timeout).UtcDateTime;
        IReadOnlyList<string> overdue = await database.WithConnectionAsync(
            (connection, token) => connection.QueryAsync<string>(Overdue, new { cutoff }, cancellationToken: token), cancellationToken);
        string reason = string.Create(CultureInfo.InvariantCulture, $"payment timed out after {timeout.TotalSeconds:0.###} s");
        foreach (string id in overdue)
        {
            TransitionResult result = await database.InTransactionAsync(
                (_, transaction, token) => ledger.MoveAsync(transaction, Guid.ParseExact(id, "N"), OrderStatus.Cancelled, reason, token,
                    onlyIf: order => order.StatusChangedAt <= cutoff),
                cancellationToken);
            if (result.Outcome == TransitionOutcome.Moved)
            {
                LogCancelled(Logger, id);
            }
        }

        return overdue.Count;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Order {OrderId} cancelled: payment timed out")]
    private static partial void LogCancelled(ILogger logger, string orderId);
}
