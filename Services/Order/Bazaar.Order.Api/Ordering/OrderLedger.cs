using System.Data.Common;
using System.Text.Json;
using Bazaar.Data;
using Bazaar.Messaging;

namespace Bazaar.Order.Api.Ordering;

/// <summary>
/// Moves orders through the state machine. One place for every writer (order-api's endpoints, the worker's saga and
/// sweeper): each move locks the order row, checks the move is legal, and writes the new status, its history entry, the
/// saga's next event (outbox) and the buyer's callback, all in the caller's transaction; after the commit it hints the
/// status streams (<see cref="OrderStatusHints"/>).
/// </summary>
public sealed class OrderLedger(IOutbox outbox, OrderStatusHints hints, TimeProvider time)
{
    private const string Columns = """
        id AS Id, user_id AS UserId, idempotency_key AS IdempotencyKey, request_hash AS RequestHash, status AS Status,
        status_reason AS StatusReason, seq AS Seq, total AS Total, shipping_address AS ShippingAddress,
        payment_method AS PaymentMethod, callback_url AS CallbackUrl, created_at AS CreatedAt, status_changed_at AS StatusChangedAt
        """;

    internal static readonly SqlStatement SelectOrder = new("orders.select", $"SELECT {Columns} FROM orders WHERE id = @id");

    private static readonly SqlStatement LockOrder = new("orders.lock", $"SELECT {Columns} FROM orders WHERE id = @id FOR UPDATE");

    internal static readonly SqlStatement SelectItems = new("order_items.select", """
        SELECT product_id AS ProductId, product_name AS ProductName, unit_price AS UnitPrice, quantity AS Quantity
        FROM order_items WHERE order_id = @id ORDER BY product_id
        """);

    internal static readonly SqlStatement SelectHistory = new("order_history.select", """
        SELECT seq AS Seq, status AS Status, reason AS Reason, occurred_at AS OccurredAt
        FROM order_history WHERE order_id = @id AND seq > @after ORDER BY seq
        """);

    internal static readonly SqlStatement InsertHistory = new("order_history.insert", """
        INSERT INTO order_history (order_id, seq, status, reason, occurred_at) VALUES (@id, @seq, @status, @reason, @now)
        """);

    /// <summary>Locks the order row until the transaction ends, so saga steps and customer actions on one order take turns.</summary>
    public Task<OrderRow?> LockAsync(DbTransaction transaction, Guid orderId, CancellationToken cancellationToken) =>
        Connection(transaction).QuerySingleOrDefaultAsync<OrderRow>(LockOrder, new { id = Key(orderId) }, transaction, cancellationToken);

    /// <summary>
    /// Moves the order to <paramref name="to"/> when that is legal from where it is (and <paramref name="onlyIf"/> agrees);
    /// otherwise nothing changes and the outcome says why.
    /// </summary>
    public async Task<TransitionResult> MoveAsync(
        DbTransaction transaction, Guid orderId, OrderStatus to, string? reason, CancellationToken cancellationToken, Func<OrderRow, bool>? onlyIf = null)
    {
        OrderRow? order = await LockAsync(transaction, orderId, cancellationToken).ConfigureAwait(false);
        return order is null
            ? TransitionResult.NotFound
            : await MoveLockedAsync(transaction, order, to, reason, cancellationToken, onlyIf).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="MoveAsync"/> for an order the caller locked in this same transaction (<see cref="LockAsync"/>) and has not
    /// changed since, as a saga step does: the row lock is still held, so locking and reading it again would only cost a round trip.
    /// The move's writes (status, history entry, any outbox event and callback) go as one command; given
    /// <paramref name="deferTo"/> (a consumer's <c>EventContext.Writes</c>), they are added to it instead and sent with
    /// every other write of that transaction in one round trip before its commit.
    /// </summary>
    public async Task<TransitionResult> MoveLockedAsync(
        DbTransaction transaction, OrderRow order, OrderStatus to, string? reason, CancellationToken cancellationToken, Func<OrderRow, bool>? onlyIf = null,
        SqlBatch? deferTo = null)
    {
        ArgumentNullException.ThrowIfNull(order);
        Guid orderId = order.OrderId;
        OrderStatus from = order.CurrentStatus;
        if (!OrderStateMachine.CanMove(from, to) || (onlyIf is not null && !onlyIf(order)))
        {
            return new TransitionResult(TransitionOutcome.Illegal, order, from);
        }

        reason = Shorten(reason);
        DateTime now = time.GetUtcNow().UtcDateTime;
        int seq = order.Seq + 1;
        SqlBatch writes = deferTo ?? new SqlBatch("orders.move");
        string id = writes.Value(order.Id), status = writes.Value(to.ToString()), because = writes.Value(reason), number = writes.Value(seq), at = writes.Value(now);
        writes.Statement($"UPDATE orders SET status = {status}, status_reason = {because}, seq = {number}, status_changed_at = {at} WHERE id = {id}");
        writes.Statement($"INSERT INTO order_history (order_id, seq, status, reason, occurred_at) VALUES ({id}, {number}, {status}, {because}, {at})");
        OrderRow moved = order with { Status = to.ToString(), StatusReason = reason, Seq = seq, StatusChangedAt = now };
        // Status streams hear of the move straight from here, over Redis, once it has committed (not through the outbox).
        hints.AfterCommit(transaction, orderId, seq);

        // Only a cancellation starts more work (the compensation). StockReserved announces nothing: the worker reserves
        // and takes payment in one step, in one transaction.
        if (to == OrderStatus.Cancelled)
        {
            outbox.Append(writes, [OutboxEntry.Capture(new OrderCancelled(orderId, OrderStateMachine.ReservationIdOf(orderId), from, reason ?? "cancelled"), order.Id, time)]);
        }

        if (OrderStateMachine.EndsSaga(to) && moved.CallbackUrl is { Length: > 0 } url)
        {
            string body = JsonSerializer.Serialize(new OrderCallback(orderId, to, reason, seq, moved.Total, OrderTime.Utc(now)), EventJson.Options);
            writes.Statement("INSERT INTO order_callbacks (order_id, seq, url, body, state, attempts, next_attempt_at, created_at) " +
                             $"VALUES ({id}, {number}, {writes.Value(url)}, {writes.Value(body)}, 'Pending', 0, {at}, {at})");
        }

        if (deferTo is null)
        {
            await writes.ExecuteAsync(Connection(transaction), transaction, cancellationToken).ConfigureAwait(false);
        }

        return new TransitionResult(TransitionOutcome.Moved, moved, from);
    }

    public static string Key(Guid orderId) => orderId.ToString("N");

    private static DbConnection Connection(DbTransaction transaction) =>
        transaction.Connection ?? throw new InvalidOperationException("The transaction has no connection (was it committed already?).");

    private static string? Shorten(string? reason) => reason is { Length: > 500 } ? reason[..500] : reason;
}

/// <summary>What the buyer's callbackUrl receives when the order reaches Paid, Rejected or Cancelled.</summary>
public sealed record OrderCallback(Guid OrderId, OrderStatus Status, string? Reason, int Seq, decimal Total, DateTimeOffset OccurredAt);
