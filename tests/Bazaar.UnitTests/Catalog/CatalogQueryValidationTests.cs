using Bazaar.Catalog.Api.Apis;
using Bazaar.Catalog.Api.Data;
using Bazaar.Catalog.Api.Hosting;
using Bazaar.ServiceDefaults.Validation;

namespace Bazaar.UnitTests.Catalog;

public sealed class CatalogQueryValidationTests
{
    [Fact]
    public void Paging_defaults_to_the_first_page_of_twenty()
    {
        var errors = new ValidationErrors();

        Paging paging = new PaginationRequest().Validate(errors);

        Assert.False(errors.Any);
        Assert.Equal(new Paging(0, 20), paging);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("101")]
    [InlineData("1.5")]
    [InlineData("ten")]
    public void A_page_size_outside_1_to_100_is_an_error_on_pageSize(string pageSize)
    {
        var errors = new ValidationErrors();

        new PaginationRequest(PageSize: pageSize).Validate(errors);

        Assert.Equal(["pageSize"], errors.ToDictionary().Keys);
    }

    [Fact]
    public void Every_filter_and_the_paging_are_part_of_the_cache_key()
    {
        var errors = new ValidationErrors();
        CatalogItemsFilter filter = new CatalogItemsRequest("1", "2", "Tent", "10", "20", "-price").Validate(errors);
        string key = filter.CacheKey(new Paging(3, 25));

        Assert.False(errors.Any);
        foreach (string part in new[] { "p3", "s25", "b1", "c2", "min10", "max20", "qtent" })
        {
            Assert.Contains(part, key);
        }

        Assert.NotEqual(key, (filter with { Sort = CatalogSort.Price }).CacheKey(new Paging(3, 25)));
    }

    [Fact]
    public void The_search_is_case_insensitive_so_it_shares_cache_entries()
    {
        var errors = new ValidationErrors();

        CatalogItemsFilter upper = new CatalogItemsRequest(Q: "TENT").Validate(errors);
        CatalogItemsFilter lower = new CatalogItemsRequest(Q: " tent ").Validate(errors);

        Assert.Equal(upper.CacheKey(new Paging(0, 20)), lower.CacheKey(new Paging(0, 20)));
    }

    [Fact]
    public void The_demo_catalog_has_unique_skus_and_names_with_plausible_prices()
    {
        var brands = new Dictionary<string, int>();
        var categories = new Dictionary<string, int>();
        List<CatalogSeeder.DemoProduct> products = CatalogSeeder.Generate(240, DateTime.UtcNow, new AutoIds(brands), new AutoIds(categories));

        Assert.Equal(240, products.Count);
        Assert.Equal(240, products.Select(p => p.Sku).Distinct().Count());
        Assert.Equal(240, products.Select(p => p.Name).Distinct().Count());
        Assert.All(products, p => Assert.InRange(p.Price, 5m, 900m));
        Assert.True(brands.Count >= 10 && categories.Count >= 10);
    }

    /// <summary>Hands out an id for every name asked for, as the seeded tables would.</summary>
    private sealed class AutoIds(Dictionary<string, int> ids) : IReadOnlyDictionary<string, int>
    {
        public int this[string key] => ids.TryGetValue(key, out int id) ? id : ids[key] = ids.Count + 1;

        public IEnumerable<string> Keys => ids.Keys;
        public IEnumerable<int> Values => ids.Values;
        public int Count => ids.Count;
        public bool ContainsKey(string key) => true;
        public bool TryGetValue(string key, out int value) { value = this[key]; return true; }
        public IEnumerator<KeyValuePair<string, int>> GetEnumerator() => ids.GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
