using Bazaar.Messaging;

namespace Bazaar.Catalog.Api.Events;

// What the catalog announces through the outbox. The event type is the routing key consumers bind to.

public sealed record ProductCreated(int ProductId, string Sku, string Name, decimal Price, int BrandId, int CategoryId, int RowVersion) : IIntegrationEvent
{
    public static string EventType => "catalog.product.created";
}

public sealed record ProductUpdated(int ProductId, string Sku, string Name, decimal Price, int BrandId, int CategoryId, int RowVersion) : IIntegrationEvent
{
    public static string EventType => "catalog.product.updated";
}

public sealed record ProductDeleted(int ProductId, string Sku) : IIntegrationEvent
{
    public static string EventType => "catalog.product.deleted";
}

public sealed record ProductPriceChanged(int ProductId, decimal OldPrice, decimal NewPrice) : IIntegrationEvent
{
    public static string EventType => "catalog.product.price-changed";
}

/// <summary>A product's stock after any change: an admin setting it, or a reservation made, committed, released or expired.</summary>
public sealed record StockChanged(int ProductId, int AvailableStock, int ReservedStock) : IIntegrationEvent
{
    public static string EventType => "catalog.stock.changed";
}

public sealed record ReservationLine(int ProductId, int Quantity);

public sealed record StockReservationMade(string ReservationId, string OrderId, IReadOnlyList<ReservationLine> Items, DateTimeOffset ExpiresAt) : IIntegrationEvent
{
    public static string EventType => "catalog.reservation.made";
}

public sealed record StockReservationRejected(string ReservationId, string OrderId, IReadOnlyList<ReservationLine> Items, string Reason) : IIntegrationEvent
{
    public static string EventType => "catalog.reservation.rejected";
}

public sealed record StockReservationCommitted(string ReservationId, string OrderId, IReadOnlyList<ReservationLine> Items) : IIntegrationEvent
{
    public static string EventType => "catalog.reservation.committed";
}

/// <summary>Held units returned: <c>State</c> is Released (asked for) or Expired (not committed in time).</summary>
public sealed record StockReservationReleased(string ReservationId, string OrderId, IReadOnlyList<ReservationLine> Items, string State) : IIntegrationEvent
{
    public static string EventType => "catalog.reservation.released";
}
