using Bazaar.Messaging;

namespace Bazaar.Order.Api.Ordering;

public sealed record OrderLine(int ProductId, string ProductName, decimal UnitPrice, int Quantity);

/// <summary>An order was accepted; the worker's saga starts from here.</summary>
public sealed record OrderSubmitted(Guid OrderId, string UserId, IReadOnlyList<OrderLine> Items, decimal Total, string PaymentMethod) : IIntegrationEvent
{
    public static string EventType => "order.submitted";
}

/// <summary>
/// The stock of an order is held in the catalog and payment is next. No longer written (the worker reserves and takes
/// payment in one step); the worker still consumes it for events written before that change.
/// </summary>
public sealed record OrderStockReserved(Guid OrderId, string ReservationId, decimal Total, string PaymentMethod) : IIntegrationEvent
{
    public static string EventType => "order.stock-reserved";
}

/// <summary>An order was cancelled (declined, timed out, or by the customer); its reservation must be released.</summary>
public sealed record OrderCancelled(Guid OrderId, string ReservationId, OrderStatus From, string Reason) : IIntegrationEvent
{
    public static string EventType => "order.cancelled";
}

/// <summary>
/// A transition, as status streams used to hear of it. No longer written (moves hint the streams over Redis directly,
/// <see cref="OrderStatusHints"/>); order-api still consumes it so events written by an older version are not dead-lettered.
/// </summary>
public sealed record OrderStatusChanged(Guid OrderId, string UserId, int Seq, OrderStatus Status, string? Reason, DateTimeOffset OccurredAt) : IIntegrationEvent
{
    public static string EventType => "order.status-changed";
}
