using Bazaar.Data;
using Bazaar.Messaging;
using Bazaar.Order.Api.Ordering;
using Microsoft.Extensions.Options;
using MySqlConnector;

namespace Bazaar.Order.Api.Placement;

/// <summary>A new order as it will be stored: its row, its lines, and its <see cref="OrderSubmitted"/> event with the trace of its request.</summary>
internal sealed record PlacementWork(OrderRow Order, IReadOnlyList<OrderLine> Lines, OutboxEntry Submitted);

/// <summary>
/// Writes new orders by group commit (<see cref="TransactionBatcher{TItem,TResult}"/>): the orders waiting together
/// go in one transaction as ONE command: BEGIN, four multi-row inserts (orders, lines, first history entries, outbox) and
/// COMMIT, a single round trip per group instead of seven per order. A group that fails for one order (an
/// Idempotency-Key that exists already) is rolled back and each order is written alone, so only that order's buyer sees
/// the duplicate and is answered from the first order. Bound from <c>Orders:Placement:Batch</c> (MaxBatchSize, Writers).
/// </summary>
internal sealed class PlacementWriter : IAsyncDisposable
{
    public const string OptionsName = "placement";
    public const string SectionName = "Orders:Placement:Batch";

    private const string InsertOrders = """
        INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, status_reason, seq, total, shipping_address,
                            payment_method, callback_url, created_at, status_changed_at) VALUES
        """;

    private const string InsertItems = "INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity) VALUES";

    private const string InsertHistory = "INSERT INTO order_history (order_id, seq, status, reason, occurred_at) VALUES";

    private readonly IOutbox _outbox;
    private readonly TransactionBatcher<PlacementWork, bool> _batcher;

    public PlacementWriter(MySqlDataSource database, IOutbox outbox, IOptionsMonitor<TransactionBatcherOptions> options, ILogger<PlacementWriter> logger)
    {
        _outbox = outbox;
        _batcher = new TransactionBatcher<PlacementWork, bool>(database, "orders.place", Statements, options.Get(OptionsName), logger);
    }

    /// <summary>Completes once the order and its events are committed; throws a unique violation when the key is taken.</summary>
    public Task WriteAsync(PlacementWork work, CancellationToken cancellationToken) => _batcher.SubmitAsync(work, cancellationToken);

    /// <summary>Orders queued for the next group.</summary>
    public int Waiting => _batcher.Waiting;

    public ValueTask DisposeAsync() => _batcher.DisposeAsync();

    private bool[] Statements(SqlBatch batch, IReadOnlyList<PlacementWork> orders)
    {
        batch.Insert(InsertOrders);
        foreach (PlacementWork work in orders)
        {
            OrderRow o = work.Order;
            batch.Row(o.Id, o.UserId, o.IdempotencyKey, o.RequestHash, o.Status, o.StatusReason, o.Seq, o.Total, o.ShippingAddress,
                o.PaymentMethod, o.CallbackUrl, o.CreatedAt, o.StatusChangedAt);
        }

        batch.End().Insert(InsertItems);
        foreach (PlacementWork work in orders)
        {
            foreach (OrderLine line in work.Lines)
            {
                batch.Row(work.Order.Id, line.ProductId, line.ProductName, line.UnitPrice, line.Quantity);
            }
        }

        batch.End().Insert(InsertHistory);
        foreach (PlacementWork work in orders)
        {
            batch.Row(work.Order.Id, work.Order.Seq, work.Order.Status, work.Order.StatusReason, work.Order.StatusChangedAt);
        }

        batch.End();
        var events = new List<OutboxEntry>(orders.Count);
        foreach (PlacementWork work in orders)
        {
            events.Add(work.Submitted);
        }

        _outbox.Append(batch, events);
        return new bool[orders.Count];
    }
}
