using System.Globalization;

namespace Bazaar.Admin.Api;

public sealed record PaginatedItems<T>(int PageIndex, int PageSize, long Count, IReadOnlyList<T> Data)
{
    public int PageCount => (int)Math.Max(1, (Count + PageSize - 1) / Math.Max(1, PageSize));
}

public sealed record OrderSummary(Guid OrderId, string UserId, string Status, string? StatusReason, decimal Total, DateTimeOffset CreatedAt, DateTimeOffset StatusChangedAt);

public sealed record OrderItem(int ProductId, string ProductName, decimal UnitPrice, int Quantity);

public sealed record ShippingAddress(string? Name, string? Line1, string? Line2, string? City, string? PostalCode, string? Country);

public sealed record OrderStatusEntry(int Seq, string Status, string? Reason, DateTimeOffset OccurredAt);

public sealed record OrderDetails(
    Guid OrderId,
    string UserId,
    string Status,
    string? StatusReason,
    decimal Total,
    ShippingAddress? ShippingAddress,
    string PaymentMethod,
    DateTimeOffset CreatedAt,
    DateTimeOffset StatusChangedAt,
    IReadOnlyList<OrderItem> Items,
    IReadOnlyList<OrderStatusEntry> History);

/// <summary>The moves an admin makes (order-api's own rules decide; a move from the wrong status is its 409).</summary>
public enum OrderMove
{
    Ship,
    Deliver,
}

/// <summary>order-api's admin side: every order (newest first), one order with its history, ship and deliver.</summary>
public sealed class OrderAdmin(AdminApi api)
{
    public const int PageSize = 20;

    /// <summary>order-api's statuses, for the filter (order-api validates what it is given).</summary>
    public static readonly string[] Statuses = ["Submitted", "StockReserved", "Paid", "Shipped", "Delivered", "Rejected", "Cancelled"];

    public Task<ApiResult<PaginatedItems<OrderSummary>>> ListAsync(string? status, int pageIndex, CancellationToken cancellationToken)
    {
        string query = $"/api/orders?pageIndex={pageIndex.ToString(CultureInfo.InvariantCulture)}&pageSize={PageSize.ToString(CultureInfo.InvariantCulture)}";
        if (!string.IsNullOrEmpty(status))
        {
            query += "&status=" + Uri.EscapeDataString(status);
        }

        return api.GetAsync<PaginatedItems<OrderSummary>>(AdminApi.OrderApi, query, cancellationToken);
    }

    public Task<ApiResult<OrderDetails>> GetAsync(Guid orderId, CancellationToken cancellationToken) =>
        api.GetAsync<OrderDetails>(AdminApi.OrderApi, $"/api/orders/{orderId:N}", cancellationToken);

    /// <summary>The move's answer: nothing on success, else order-api's problem (409 from another status).</summary>
    public async Task<ApiProblem?> MoveAsync(Guid orderId, OrderMove move, CancellationToken cancellationToken)
    {
        string action = move == OrderMove.Ship ? "ship" : "deliver";
        ApiResult<NoBody> result = await api.SendAsync<NoBody>(AdminApi.OrderApi, HttpMethod.Post, $"/api/orders/{orderId:N}/{action}", null, cancellationToken);
        return result.Problem;
    }
}
