using System.Text.Json.Serialization;

namespace Bazaar.Order.Api.Ordering;

/// <summary>Where an order is in its life. Stored and sent by name.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OrderStatus>))]
public enum OrderStatus
{
    Submitted,
    StockReserved,
    Paid,
    Shipped,
    Delivered,
    Rejected,
    Cancelled,
}

/// <summary>
/// The legal moves of an order: Submitted → StockReserved → Paid → Shipped → Delivered; Submitted → Rejected
/// (out of stock); Submitted or StockReserved → Cancelled (declined, timed out, or by the customer). Anything else is refused.
/// </summary>
public static class OrderStateMachine
{
    private static readonly Dictionary<OrderStatus, OrderStatus[]> Moves = new()
    {
        [OrderStatus.Submitted] = [OrderStatus.StockReserved, OrderStatus.Rejected, OrderStatus.Cancelled],
        [OrderStatus.StockReserved] = [OrderStatus.Paid, OrderStatus.Cancelled],
        [OrderStatus.Paid] = [OrderStatus.Shipped],
        [OrderStatus.Shipped] = [OrderStatus.Delivered],
        [OrderStatus.Delivered] = [],
        [OrderStatus.Rejected] = [],
        [OrderStatus.Cancelled] = [],
    };

    public static bool CanMove(OrderStatus from, OrderStatus to) => Moves[from].Contains(to);

    /// <summary>The saga is over: the buyer's callback fires on these (Paid, Rejected, Cancelled).</summary>
    public static bool EndsSaga(OrderStatus status) => status is OrderStatus.Paid or OrderStatus.Rejected or OrderStatus.Cancelled;

    /// <summary>Nothing the saga does changes the order any more; the status stream closes after one of these.</summary>
    public static bool ClosesStream(OrderStatus status) => status is not (OrderStatus.Submitted or OrderStatus.StockReserved);

    /// <summary>The customer may cancel until the order is paid.</summary>
    public static bool CustomerMayCancel(OrderStatus status) => status is OrderStatus.Submitted or OrderStatus.StockReserved;

    /// <summary>The catalog reservation of an order: derived from its id, so every retry of the saga names the same one.</summary>
    public static string ReservationIdOf(Guid orderId) => "order-" + orderId.ToString("N");
}
