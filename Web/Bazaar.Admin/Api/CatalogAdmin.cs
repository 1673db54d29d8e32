using System.Globalization;

namespace Bazaar.Admin.Api;

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

public sealed record StockLevel(int ProductId, int AvailableStock, int ReservedStock);

/// <summary>A product as the form edits it; catalog-api validates it (its 400 names each bad member).</summary>
public sealed class CatalogItemForm
{
    public string? Sku { get; set; }

    public string? Name { get; set; }

    public string? Description { get; set; }

    public decimal? Price { get; set; }

    public int? BrandId { get; set; }

    public int? CategoryId { get; set; }

    public int? AvailableStock { get; set; }

    public int? RowVersion { get; set; }

    public static CatalogItemForm From(CatalogItem item) => new()
    {
        Sku = item.Sku,
        Name = item.Name,
        Description = item.Description,
        Price = item.Price,
        BrandId = item.BrandId,
        CategoryId = item.CategoryId,
        AvailableStock = item.AvailableStock,
        RowVersion = item.RowVersion,
    };
}

/// <summary>catalog-api's products for the admin: the listing, and its admin routes to create, update and set stock.</summary>
public sealed class CatalogAdmin(AdminApi api)
{
    public const int PageSize = 20;

    private const string Items = "/api/catalog/items";

    public Task<ApiResult<PaginatedItems<CatalogItem>>> ListAsync(string? search, int pageIndex, CancellationToken cancellationToken)
    {
        string query = $"{Items}?pageIndex={pageIndex.ToString(CultureInfo.InvariantCulture)}&pageSize={PageSize.ToString(CultureInfo.InvariantCulture)}&sort=newest";
        if (!string.IsNullOrWhiteSpace(search))
        {
            query += "&q=" + Uri.EscapeDataString(search.Trim());
        }

        return api.GetAsync<PaginatedItems<CatalogItem>>(AdminApi.CatalogApi, query, cancellationToken);
    }

    public Task<ApiResult<CatalogItem>> GetAsync(int id, CancellationToken cancellationToken) =>
        api.GetAsync<CatalogItem>(AdminApi.CatalogApi, $"{Items}/{id.ToString(CultureInfo.InvariantCulture)}", cancellationToken);

    public Task<ApiResult<StockLevel>> StockAsync(int id, CancellationToken cancellationToken) =>
        api.GetAsync<StockLevel>(AdminApi.CatalogApi, $"{Items}/{id.ToString(CultureInfo.InvariantCulture)}/stock", cancellationToken);

    public Task<ApiResult<CatalogBrand[]>> BrandsAsync(CancellationToken cancellationToken) =>
        api.GetAsync<CatalogBrand[]>(AdminApi.CatalogApi, "/api/catalog/brands", cancellationToken);

    public Task<ApiResult<CatalogCategory[]>> CategoriesAsync(CancellationToken cancellationToken) =>
        api.GetAsync<CatalogCategory[]>(AdminApi.CatalogApi, "/api/catalog/categories", cancellationToken);

    public Task<ApiResult<CatalogItem>> CreateAsync(CatalogItemForm item, CancellationToken cancellationToken) =>
        api.SendAsync<CatalogItem>(AdminApi.CatalogApi, HttpMethod.Post, Items, new
        {
            item.Sku,
            item.Name,
            item.Description,
            item.Price,
            item.BrandId,
            item.CategoryId,
            item.AvailableStock,
        }, cancellationToken);

    /// <summary>Updates with the row version the form read: a change made meanwhile is catalog-api's 409.</summary>
    public Task<ApiResult<CatalogItem>> UpdateAsync(int id, CatalogItemForm item, CancellationToken cancellationToken) =>
        api.SendAsync<CatalogItem>(AdminApi.CatalogApi, HttpMethod.Put, $"{Items}/{id.ToString(CultureInfo.InvariantCulture)}", new
        {
            item.Name,
            item.Description,
            item.Price,
            item.BrandId,
            item.CategoryId,
            item.RowVersion,
        }, cancellationToken);

    public Task<ApiResult<StockLevel>> SetStockAsync(int id, int? availableStock, CancellationToken cancellationToken) =>
        api.SendAsync<StockLevel>(AdminApi.CatalogApi, HttpMethod.Put, $"{Items}/{id.ToString(CultureInfo.InvariantCulture)}/stock",
            new { availableStock }, cancellationToken);
}
