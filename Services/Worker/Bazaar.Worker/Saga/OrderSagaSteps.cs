using Bazaar.Messaging;
using Bazaar.Order.Api.Ordering;
using Bazaar.Worker.Catalog;
using Bazaar.Worker.Payments;
using Microsoft.Extensions.Options;

namespace Bazaar.Worker.Saga;

/// <summary>
/// The saga's one step, on <see cref="OrderSubmitted"/>: reserve every line in the catalog (all or nothing) under a
/// reservation id derived from the order id, move the order to StockReserved, then take payment (<see cref="Payment"/>)
/// and end Paid or Cancelled, all in this handler's transaction with the order row locked, so a customer's cancel waits
/// for the step and then sees its outcome. Short stock → Rejected with the products named. Reserving and paying in one
/// step costs one transaction, one inbox row and no event between them; a crash anywhere before the commit rolls the
/// order back to Submitted, and the redelivered event repeats the calls, which are idempotent (the catalog answers the
/// same reservation, committed or not; the provider answers the first charge). During a placement peak the worker's
/// consumer takes its messages in turns (<see cref="SagaYield"/>). A provider that does not answer within
/// Payments:HandOverAfter gets the payment handed to a step of its own (<see cref="Payment"/>), so the other orders of
/// this step's batch go on.
/// </summary>
internal sealed partial class ReserveStockStep(
    OrderLedger ledger, StockClient stock, Payment payment, IOptions<SagaOptions> options, ILogger<ReserveStockStep> logger)
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
        if (reservation.IsReserved || reservation.IsCommitted)
        {
            // Committed: a run of this step before a crash got as far as committing the stock; the payment below answers
            // that run's charge again, so the order ends as that run would have ended it.
            TransitionResult reserved = await ledger.MoveLockedAsync(
                context.Transaction, order, OrderStatus.StockReserved, "stock reserved", cancellationToken, deferTo: context.Writes);
            LogReserved(logger, @event.OrderId);
            await payment.TakeAsync(context, reserved.Order!, mayHandOver: true, cancellationToken);
        }
        else if (reservation.State == "Rejected")
        {
            string reason = reservation.Reason ?? "the stock reservation was rejected";
            await ledger.MoveLockedAsync(context.Transaction, order, OrderStatus.Rejected, reason, cancellationToken, deferTo: context.Writes);
            LogRejected(logger, @event.OrderId, reason);
        }
        else
        {
            // Released or expired: only a redelivery long after a crash meets this. Cancelling runs the compensation,
            // which refunds whatever that earlier run charged.
            string reason = $"the stock reservation was {reservation.State.ToLowerInvariant()} before payment completed";
            await ledger.MoveLockedAsync(context.Transaction, order, OrderStatus.Cancelled, reason, cancellationToken, deferTo: context.Writes);
            LogRejected(logger, @event.OrderId, reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Order {OrderId}: stock reserved")]
    private static partial void LogReserved(ILogger logger, Guid orderId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Order {OrderId} not taken: {Reason}")]
    private static partial void LogRejected(ILogger logger, Guid orderId, string reason);
}

/// <summary>
/// Takes payment for an order in StockReserved, locked by the caller in the consumer's transaction: charge the buyer (idempotent by
/// order id at the provider), then commit the reservation and mark the order Paid. A decline cancels (the cancellation
/// releases the stock). No answer within the call timeout leaves the order waiting in StockReserved: the payment timeout
/// sweeper cancels it. If the reservation is gone by the time the charge succeeds (it expired), the charge is refunded
/// and the order cancelled. The moves join the transaction's deferred writes (<see cref="EventContext.Writes"/>).
/// A step that shares its transaction with other orders (<paramref name="mayHandOver"/>) waits for the provider only
/// <see cref="PaymentOptions.HandOverAfter"/>: then it leaves the order in StockReserved and writes
/// <see cref="OrderStockReserved"/>, whose step runs alone and asks the provider again (same key) for the whole call timeout.
/// </summary>
internal sealed partial class Payment(
    OrderLedger ledger, StockClient stock, SimulatedPaymentProvider payments, IOutbox outbox, IOptions<PaymentOptions> options, TimeProvider time, ILogger<Payment> logger)
{
    public async Task TakeAsync(EventContext context, OrderRow order, bool mayHandOver, CancellationToken cancellationToken)
    {
        PaymentOptions settings = options.Value;
        bool handOver = mayHandOver && settings.HandOverAfter < settings.CallTimeout;
        TimeSpan wait = handOver ? settings.HandOverAfter : settings.CallTimeout;
        PaymentAnswer answer;
        using (var callTimeout = new CancellationTokenSource(wait, time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callTimeout.Token))
        {
            try
            {
                answer = await payments.ChargeAsync(order.Id, order.Total, order.PaymentMethod, linked.Token);
            }
            catch (OperationCanceledException) when (callTimeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                if (handOver)
                {
                    outbox.Append(context.Writes, [OutboxEntry.Capture(
                        new OrderStockReserved(order.OrderId, OrderStateMachine.ReservationIdOf(order.OrderId), order.Total, order.PaymentMethod), order.Id, time)]);
                    LogHandedOver(logger, order.OrderId, wait);
                    return;
                }

                LogNoAnswer(logger, order.OrderId, wait);
                return;
            }
        }

        if (answer is PaymentAnswer.Declined declined)
        {
            await ledger.MoveLockedAsync(context.Transaction, order, OrderStatus.Cancelled, "payment declined: " + declined.Reason, cancellationToken, deferTo: context.Writes);
            return;
        }

        string reference = ((PaymentAnswer.Approved)answer).Reference;
        ReservationAnswer? committed = await stock.CommitAsync(order.OrderId, cancellationToken);
        if (committed is { IsCommitted: true })
        {
            await ledger.MoveLockedAsync(context.Transaction, order, OrderStatus.Paid, $"payment {reference} approved", cancellationToken, deferTo: context.Writes);
            return;
        }

        await payments.RefundAsync(order.Id, cancellationToken);
        string reason = $"the stock reservation was {committed?.State.ToLowerInvariant() ?? "gone"} before payment completed; payment refunded";
        await ledger.MoveLockedAsync(context.Transaction, order, OrderStatus.Cancelled, reason, cancellationToken, deferTo: context.Writes);
        LogLostReservation(logger, order.OrderId, reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Order {OrderId}: the payment provider gave no answer within {Wait}; the payment goes on in a step of its own")]
    private static partial void LogHandedOver(ILogger logger, Guid orderId, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Information, Message = "Order {OrderId}: the payment provider gave no answer within {Timeout}; the payment timeout decides")]
    private static partial void LogNoAnswer(ILogger logger, Guid orderId, TimeSpan timeout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Order {OrderId} cancelled: {Reason}")]
    private static partial void LogLostReservation(ILogger logger, Guid orderId, string reason);
}

/// <summary>
/// On <see cref="OrderStockReserved"/>, written when the provider did not answer a reserve step within
/// <see cref="PaymentOptions.HandOverAfter"/> (and by order rows written before the steps were joined): takes payment for
/// the order if it still waits in StockReserved, waiting for the provider up to the whole call timeout. Consumed alone, so
/// that wait holds no other order.
/// </summary>
internal sealed class TakePaymentStep(OrderLedger ledger, Payment payment) : IIntegrationEventHandler<OrderStockReserved>
{
    public async Task HandleAsync(OrderStockReserved @event, EventContext context, CancellationToken cancellationToken)
    {
        OrderRow? order = await ledger.LockAsync(context.Transaction, @event.OrderId, cancellationToken);
        if (order?.CurrentStatus == OrderStatus.StockReserved)
        {
            await payment.TakeAsync(context, order, mayHandOver: false, cancellationToken);
        }
    }
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
