namespace Bazaar.Catalog.Api.Model;

/// <summary>A product as the API shows it. <c>AvailableStock</c> is indicative (it may be a cache age old); reservations decide.</summary>
public sealed record CatalogItem(
    int Id,
    string Sku,
    string Name,
    string Description,
    decimal Price,
    int BrandId,
    string BrandName,
    int CategoryId,
    string CategoryName,
    int AvailableStock,
    int RowVersion,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

public sealed record CatalogBrand(int Id, string Name, int RowVersion);

public sealed record CatalogCategory(int Id, string Name, int RowVersion);

/// <summary>Admin view of a product's stock: what can be sold and what open reservations hold.</summary>
public sealed record StockLevel(int ProductId, int AvailableStock, int ReservedStock);

public sealed record CreateCatalogItemRequest(
    string? Sku,
    string? Name,
    string? Description,
    decimal? Price,
    int? BrandId,
    int? CategoryId,
    int? AvailableStock);

public sealed record UpdateCatalogItemRequest(
    string? Name,
    string? Description,
    decimal? Price,
    int? BrandId,
    int? CategoryId,
    int? RowVersion);

public sealed record SetStockRequest(int? AvailableStock);

/// <summary>Create or rename a brand or category; an update carries the row version it read.</summary>
public sealed record NamedEntityRequest(string? Name, int? RowVersion);
