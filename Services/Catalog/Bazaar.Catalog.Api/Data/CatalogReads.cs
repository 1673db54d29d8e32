using System.Globalization;
using Bazaar.Caching;
using Bazaar.Catalog.Api.Apis;
using Bazaar.Catalog.Api.Model;

namespace Bazaar.Catalog.Api.Data;

/// <summary>The catalog's reads through the two-level cache, and the invalidations its writes cause.</summary>
internal sealed class CatalogReads(TwoLevelCache cache, CatalogStore store, HighestProductId highestId)
{
    public const string ItemKeyPrefix = "items:";
    private const string ListVersion = "lists:version";
    private const string BrandsKey = "brands";
    private const string CategoriesKey = "categories";

    public async ValueTask<CatalogItem?> GetItemAsync(int id, CancellationToken cancellationToken)
    {
        if (id <= 0 || !await highestId.MayExistAsync(id, store.GetHighestProductIdAsync, cancellationToken))
        {
            return null;
        }

        return await cache.GetOrCreateAsync(ItemKey(id), ct => store.GetItemAsync(id, ct), cancellationToken);
    }

    public async Task<PaginatedItems<CatalogItem>> ListItemsAsync(CatalogItemsFilter filter, Paging paging, CancellationToken cancellationToken)
    {
        string version = await cache.GetVersionAsync(ListVersion, cancellationToken);
        PaginatedItems<CatalogItem>? page = await cache.GetOrCreateAsync(
            "lists:" + version + ":" + filter.CacheKey(paging), async ct => (PaginatedItems<CatalogItem>?)await store.ListItemsAsync(filter, paging, ct), cancellationToken);
        return page!;
    }

    public async Task<IReadOnlyList<CatalogBrand>> GetBrandsAsync(CancellationToken cancellationToken) =>
        (await cache.GetOrCreateAsync(BrandsKey, async ct => (IReadOnlyList<CatalogBrand>?)await store.GetBrandsAsync(ct), cancellationToken))!;

    public async Task<IReadOnlyList<CatalogCategory>> GetCategoriesAsync(CancellationToken cancellationToken) =>
        (await cache.GetOrCreateAsync(CategoriesKey, async ct => (IReadOnlyList<CatalogCategory>?)await store.GetCategoriesAsync(ct), cancellationToken))!;

    /// <summary>After a product write: drop its entry everywhere and retire every cached list page.</summary>
    public async Task ItemChangedAsync(int id, CancellationToken cancellationToken)
    {
        highestId.Raise(id);
        await cache.InvalidateAsync(ItemKey(id), cancellationToken);
        await cache.BumpVersionAsync(ListVersion, cancellationToken);
    }

    public async Task BrandsChangedAsync(IReadOnlyList<int> productIds, CancellationToken cancellationToken)
    {
        await cache.InvalidateAsync(BrandsKey, cancellationToken);
        await ProductsRenamedAsync(productIds, cancellationToken);
    }

    public async Task CategoriesChangedAsync(IReadOnlyList<int> productIds, CancellationToken cancellationToken)
    {
        await cache.InvalidateAsync(CategoriesKey, cancellationToken);
        await ProductsRenamedAsync(productIds, cancellationToken);
    }

    private async Task ProductsRenamedAsync(IReadOnlyList<int> productIds, CancellationToken cancellationToken)
    {
        foreach (int id in productIds)
        {
            await cache.InvalidateAsync(ItemKey(id), cancellationToken);
        }

        await cache.BumpVersionAsync(ListVersion, cancellationToken);
    }

    private static string ItemKey(int id) => ItemKeyPrefix + id.ToString(CultureInfo.InvariantCulture);
}
