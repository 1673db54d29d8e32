using System.Text.Json;
using Bazaar.Data;
using Bazaar.Order.Api.Apis;
using MySqlConnector;

namespace Bazaar.Order.Api.Ordering;

/// <summary>Order queries for the API and the status stream; straight from MySQL (orders are read by their owners, rarely).</summary>
internal sealed class OrderReads(MySqlDataSource database)
{
    public Task<OrderRow?> GetRowAsync(Guid orderId, CancellationToken cancellationToken) =>
        database.WithConnectionAsync((connection, token) =>
            connection.QuerySingleOrDefaultAsync<OrderRow>(OrderLedger.SelectOrder, new { id = OrderLedger.Key(orderId) }, cancellationToken: token), cancellationToken);

    public Task<OrderDetails?> GetAsync(Guid orderId, CancellationToken cancellationToken) =>
        database.WithConnectionAsync(async (connection, token) =>
        {
            string id = OrderLedger.Key(orderId);
            OrderRow? row = await connection.QuerySingleOrDefaultAsync<OrderRow>(OrderLedger.SelectOrder, new { id }, cancellationToken: token);
            if (row is null)
            {
                return null;
            }

            IReadOnlyList<OrderItemRow> items = await connection.QueryAsync<OrderItemRow>(OrderLedger.SelectItems, new { id }, cancellationToken: token);
            IReadOnlyList<OrderHistoryRow> history = await connection.QueryAsync<OrderHistoryRow>(OrderLedger.SelectHistory, new { id, after = 0 }, cancellationToken: token);
            return ToDetails(row, items, history);
        }, cancellationToken);

    public Task<IReadOnlyList<OrderHistoryRow>> HistoryAsync(Guid orderId, int afterSeq, CancellationToken cancellationToken) =>
        database.WithConnectionAsync((connection, token) =>
            connection.QueryAsync<OrderHistoryRow>(OrderLedger.SelectHistory, new { id = OrderLedger.Key(orderId), after = afterSeq }, cancellationToken: token), cancellationToken);

    public Task<PaginatedItems<OrderSummary>> ListAsync(string? userId, OrderStatus? status, int pageIndex, int pageSize, CancellationToken cancellationToken) =>
        database.WithConnectionAsync(async (connection, token) =>
        {
            string where = (userId, status) switch
            {
                (null, null) => "",
                (not null, null) => "WHERE user_id = @userId",
                (null, not null) => "WHERE status = @status",
                _ => "WHERE user_id = @userId AND status = @status",
            };
            var parameters = new { userId, status = status?.ToString(), take = pageSize, skip = pageIndex * pageSize };
            long count = await connection.ExecuteScalarAsync<long>(new SqlStatement("orders.count", $"SELECT COUNT(*) FROM orders {where}"), parameters, cancellationToken: token);
            IReadOnlyList<SummaryRow> rows = await connection.QueryAsync<SummaryRow>(new SqlStatement("orders.page", $"""
                SELECT id AS Id, user_id AS UserId, status AS Status, status_reason AS StatusReason, total AS Total,
                       created_at AS CreatedAt, status_changed_at AS StatusChangedAt
                FROM orders {where} ORDER BY created_at DESC, id DESC LIMIT @take OFFSET @skip
                """), parameters, cancellationToken: token);
            return new PaginatedItems<OrderSummary>(pageIndex, pageSize, count, rows.Select(row => row.ToSummary()).ToList());
        }, cancellationToken);

    private static OrderDetails ToDetails(OrderRow row, IReadOnlyList<OrderItemRow> items, IReadOnlyList<OrderHistoryRow> history) => new(
        row.OrderId,
        row.UserId,
        row.CurrentStatus,
        row.StatusReason,
        row.Total,
        JsonSerializer.Deserialize<ShippingAddress>(row.ShippingAddress, JsonSerializerOptions.Web),
        row.PaymentMethod,
        row.CallbackUrl,
        OrderTime.Utc(row.CreatedAt),
        OrderTime.Utc(row.StatusChangedAt),
        items.Select(item => new OrderItem(item.ProductId, item.ProductName, item.UnitPrice, item.Quantity)).ToList(),
        history.Select(OrderStatusEntry.From).ToList());

    private sealed record SummaryRow(string Id, string UserId, string Status, string? StatusReason, decimal Total, DateTime CreatedAt, DateTime StatusChangedAt)
    {
        public OrderSummary ToSummary() => new(Guid.ParseExact(Id, "N"), UserId, Enum.Parse<OrderStatus>(Status), StatusReason, Total,
            OrderTime.Utc(CreatedAt), OrderTime.Utc(StatusChangedAt));
    }
}
