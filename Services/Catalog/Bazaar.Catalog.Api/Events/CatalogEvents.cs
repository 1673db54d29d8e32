namespace Bazaar.Catalog.Api.Events;

/// <summary>What the catalog announces through the outbox; the type names are the routing keys.</summary>
internal static class CatalogEventTypes
{
    public const string ProductCreated = "catalog.product.created";
    public const string ProductUpdated = "catalog.product.updated";
    public const string ProductDeleted = "catalog.product.deleted";
    public const string PriceChanged = "catalog.product.price-changed";
    public const string StockChanged = "catalog.stock.changed";
    public const string ReservationMade = "catalog.reservation.made";
    public const string ReservationRejected = "catalog.reservation.rejected";
    public const string ReservationCommitted = "catalog.reservation.committed";
    public const string ReservationReleased = "catalog.reservation.released";
}

internal sealed record ProductChanged(int ProductId, string Sku, string Name, decimal Price, int BrandId, int CategoryId, int RowVersion);

internal sealed record ProductDeleted(int ProductId, string Sku);

internal sealed record PriceChanged(int ProductId, decimal OldPrice, decimal NewPrice);

internal sealed record StockChanged(int ProductId, int AvailableStock, int ReservedStock);

internal sealed record ReservationLine(int ProductId, int Quantity);

internal sealed record ReservationEvent(string ReservationId, string OrderId, string State, IReadOnlyList<ReservationLine> Items, string? Reason);
