using Bazaar.Messaging;
using Bazaar.Order.Api.Ordering;
using Bazaar.Worker.Catalog;
using Bazaar.Worker.Payments;
using Microsoft.Extensions.Options;

namespace Bazaar.Worker.Saga;

/// <summary>
/// Step 1, on <see cref="OrderSubmitted"/>: reserve every line in the catalog (all or nothing), under a reservation id
/// derived from the order id so a repeat of this step finds the same reservation. Reserved → StockReserved; short → Rejected
/// with the products named. The order row stays locked for the step, so a customer's cancel waits for it and then sees
/// its outcome. The move and its events commit with the inbox row (this handler's transaction).
/// </summary>
internal sealed partial class ReserveStockStep(OrderLedger ledger, StockClient stock, IOptions<SagaOptions> options, ILogger<ReserveStockStep> logger)
    : IIntegrationEventHandler<OrderSubmitted>
{
    public async Task HandleAsync(OrderSubmitted @event, EventContext context, CancellationToken cancellationToken)
    {
        OrderRow? order = await ledger.LockAsync(context.Transaction, @event.OrderId, cancellationToken);
        if (order?.CurrentStatus != OrderStatus.Submitted)
        {
            return; // Handled before, or cancelled by the customer first (whose cancellation releases any reservation).
        }

        SagaOptions settings = options.Value;
        ReservationAnswer reservation = await stock.ReserveAsync(
            @event.OrderId, @event.Items.Select(line => new StockLine(line.ProductId, line.Quantity)),
            settings.PaymentTimeout + settings.ReservationMargin, cancellationToken);
        if (reservation.IsReserved)
        {
            await ledger.MoveLockedAsync(context.Transaction, order, OrderStatus.StockReserved, "stock reserved", cancellationToken);
            LogReserved(logger, @event.OrderId);
        }
        else
        {
            string reason = reservation.Reason ?? $"the stock reservation is {reservation.State}";
            await ledger.MoveLockedAsync(context.Transaction, order, OrderStatus.Rejected, reason, cancellationToken);
            LogRejected(logger, @event.OrderId, reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Order {OrderId}: stock reserved")]
    private static partial void LogReserved(ILogger logger, Guid orderId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Order {OrderId} rejected: {Reason}")]
    private static partial void LogRejected(ILogger logger, Guid orderId, string reason);
}

/// <summary>
/// Step 2, on <see cref="OrderStockReserved"/>: charge the buyer (idempotent by order id at the provider), then commit the
/// reservation and mark the order Paid. A decline cancels (the cancellation releases the stock). No answer within the
/// call timeout leaves the order waiting: the payment timeout sweeper cancels it. If the reservation is gone by the time
/// the charge succeeds (it expired), the charge is refunded and the order cancelled.
/// </summary>
internal sealed partial class TakePaymentStep(
    OrderLedger ledger, StockClient stock, SimulatedPaymentProvider payments, IOptions<PaymentOptions> options, TimeProvider time, ILogger<TakePaymentStep> logger)
    : IIntegrationEventHandler<OrderStockReserved>
{
    public async Task HandleAsync(OrderStockReserved @event, EventContext context, CancellationToken cancellationToken)
    {
        OrderRow? order = await ledger.LockAsync(context.Transaction, @event.OrderId, cancellationToken);
        if (order?.CurrentStatus != OrderStatus.StockReserved)
        {
            return; // Paid already, or cancelled meanwhile (the cancellation refunds whatever was charged).
        }

        PaymentAnswer answer;
        using (var callTimeout = new CancellationTokenSource(options.Value.CallTimeout, time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callTimeout.Token))
        {
            try
            {
                answer = await payments.ChargeAsync(order.Id, order.Total, order.PaymentMethod, linked.Token);
            }
            catch (OperationCanceledException) when (callTimeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                LogNoAnswer(logger, @event.OrderId, options.Value.CallTimeout);
                return;
            }
        }

        if (answer is PaymentAnswer.Declined declined)
        {
            await ledger.MoveLockedAsync(context.Transaction, order, OrderStatus.Cancelled, "payment declined: " + declined.Reason, cancellationToken);
            return;
        }

        string reference = ((PaymentAnswer.Approved)answer).Reference;
        ReservationAnswer? committed = await stock.CommitAsync(@event.OrderId, cancellationToken);
        if (committed is { IsCommitted: true })
        {
            await ledger.MoveLockedAsync(context.Transaction, order, OrderStatus.Paid, $"payment {reference} approved", cancellationToken);
            return;
        }

        await payments.RefundAsync(order.Id, cancellationToken);
        string reason = $"the stock reservation was {committed?.State.ToLowerInvariant() ?? "gone"} before payment completed; payment refunded";
        await ledger.MoveLockedAsync(context.Transaction, order, OrderStatus.Cancelled, reason, cancellationToken);
        LogLostReservation(logger, @event.OrderId, reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Order {OrderId}: the payment provider gave no answer within {Timeout}; the payment timeout decides")]
    private static partial void LogNoAnswer(ILogger logger, Guid orderId, TimeSpan timeout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Order {OrderId} cancelled: {Reason}")]
    private static partial void LogLostReservation(ILogger logger, Guid orderId, string reason);
}

/// <summary>
/// Compensation, on <see cref="OrderCancelled"/> (declined, timed out, or by the customer): release the reservation and
/// refund any charge. Both are idempotent, and both are harmless when nothing was reserved or charged.
/// </summary>
internal sealed partial class ReleaseStockStep(StockClient stock, SimulatedPaymentProvider payments, ILogger<ReleaseStockStep> logger)
    : IIntegrationEventHandler<OrderCancelled>
{
    public async Task HandleAsync(OrderCancelled @event, EventContext context, CancellationToken cancellationToken)
    {
        ReservationAnswer? released = await stock.ReleaseAsync(@event.OrderId, cancellationToken);
        if (released is { IsCommitted: true })
        {
            LogCommittedAlready(logger, @event.OrderId);
        }

        await payments.RefundAsync(OrderLedger.Key(@event.OrderId), cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Order {OrderId} was cancelled but its stock had been committed; the units stay sold")]
    private static partial void LogCommittedAlready(ILogger logger, Guid orderId);
}
