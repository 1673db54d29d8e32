using Bazaar.Order.Api.Ordering;

namespace Bazaar.Order.Api.Apis;

/// <summary>The body of <c>POST /api/orders</c>. Everything is nullable so a missing member is a 400 naming it, not a bare 400.</summary>
public sealed record PlaceOrderRequest(IReadOnlyList<PlaceOrderItem?>? Items, ShippingAddress? ShippingAddress, string? PaymentMethod, string? CallbackUrl);

public sealed record PlaceOrderItem(int? ProductId, int? Quantity);

public sealed record ShippingAddress(string? Name, string? Line1, string? Line2, string? City, string? PostalCode, string? Country);

/// <summary>The 202 answer: where to read the order and where to watch it move.</summary>
public sealed record OrderAccepted(Guid OrderId, OrderStatus Status, string StatusUrl, string EventsUrl);

public sealed record OrderItem(int ProductId, string ProductName, decimal UnitPrice, int Quantity);

public sealed record OrderDetails(
    Guid OrderId,
    string UserId,
    OrderStatus Status,
    string? StatusReason,
    decimal Total,
    ShippingAddress? ShippingAddress,
    string PaymentMethod,
    string? CallbackUrl,
    DateTimeOffset CreatedAt,
    DateTimeOffset StatusChangedAt,
    IReadOnlyList<OrderItem> Items,
    IReadOnlyList<OrderStatusEntry> History);

public sealed record OrderSummary(Guid OrderId, string UserId, OrderStatus Status, string? StatusReason, decimal Total, DateTimeOffset CreatedAt, DateTimeOffset StatusChangedAt);

public sealed record PaginatedItems<T>(int PageIndex, int PageSize, long Count, IReadOnlyList<T> Data);
