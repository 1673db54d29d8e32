using Bazaar.Catalog.Api.Apis;
using Microsoft.AspNetCore.Mvc;
using Bazaar.ServiceDefaults.Validation;

namespace Bazaar.Catalog.Api.Data;

/// <summary>The filters of GET /items as they arrive (raw, so that a bad value becomes a 400 naming it).</summary>
public sealed record CatalogItemsRequest(
    [property: FromQuery(Name = "brandId")] string? BrandId = null,
    [property: FromQuery(Name = "categoryId")] string? CategoryId = null,
    [property: FromQuery(Name = "q")] string? Q = null,
    [property: FromQuery(Name = "minPrice")] string? MinPrice = null,
    [property: FromQuery(Name = "maxPrice")] string? MaxPrice = null,
    [property: FromQuery(Name = "sort")] string? Sort = null)
{
    public const int MaxSearchLength = 100;
    public const decimal PriceLimit = 1_000_000_000m;

    internal CatalogItemsFilter Validate(ValidationErrors errors)
    {
        int? brandId = errors.OptionalInt("brandId", BrandId, 1, int.MaxValue);
        int? categoryId = errors.OptionalInt("categoryId", CategoryId, 1, int.MaxValue);
        decimal? minPrice = errors.OptionalDecimal("minPrice", MinPrice, 0, PriceLimit);
        decimal? maxPrice = errors.OptionalDecimal("maxPrice", MaxPrice, 0, PriceLimit);
        if (minPrice is not null && maxPrice is not null && minPrice > maxPrice)
        {
            errors.Add("maxPrice", "Must not be less than minPrice.");
        }

        string? search = errors.OptionalText("q", Q, MaxSearchLength);
        CatalogSort sort = CatalogSort.Name;
        if (!string.IsNullOrWhiteSpace(Sort) && !SortNames.TryGetValue(Sort.Trim(), out sort))
        {
            errors.Add("sort", "Must be one of: name, price, -price, newest.");
        }

        return new CatalogItemsFilter(brandId, categoryId, string.IsNullOrEmpty(search) ? null : search.ToLowerInvariant(), minPrice, maxPrice, sort);
    }

    private static readonly Dictionary<string, CatalogSort> SortNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["name"] = CatalogSort.Name,
        ["price"] = CatalogSort.Price,
        ["-price"] = CatalogSort.PriceDescending,
        ["newest"] = CatalogSort.Newest,
    };
}

public enum CatalogSort
{
    Name,
    Price,
    PriceDescending,
    Newest,
}

/// <summary>Validated filters; <see cref="CacheKey"/> names the page uniquely (every filter and the paging are in it).</summary>
internal sealed record CatalogItemsFilter(int? BrandId, int? CategoryId, string? Search, decimal? MinPrice, decimal? MaxPrice, CatalogSort Sort)
{
    public string CacheKey(Paging paging) => FormattableString.Invariant(
        $"p{paging.Index}:s{paging.Size}:b{BrandId}:c{CategoryId}:min{MinPrice}:max{MaxPrice}:o{(int)Sort}:q{Search}");
}
