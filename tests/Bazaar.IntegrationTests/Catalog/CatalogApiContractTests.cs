using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Bazaar.Catalog.Api.Apis;
using Bazaar.Catalog.Api.Model;
using Bazaar.IntegrationTests.Auth;

namespace Bazaar.IntegrationTests.Catalog;

/// <summary>What callers may send and what they get back: roles, validation, concurrency, the answer shapes.</summary>
public sealed class CatalogApiContractTests : IAsyncLifetime
{
    private CatalogDeployment _catalog = null!;

    public async Task InitializeAsync() => _catalog = await CatalogDeployment.StartAsync();

    public async Task DisposeAsync() => await _catalog.DisposeAsync();

    public static TheoryData<string, string> AdminRoutes => new()
    {
        { "POST", "/api/catalog/items" },
        { "PUT", "/api/catalog/items/1" },
        { "DELETE", "/api/catalog/items/1" },
        { "GET", "/api/catalog/items/1/stock" },
        { "PUT", "/api/catalog/items/1/stock" },
        { "POST", "/api/catalog/brands" },
        { "PUT", "/api/catalog/brands/1" },
        { "POST", "/api/catalog/categories" },
        { "PUT", "/api/catalog/categories/1" },
    };

    [Theory]
    [MemberData(nameof(AdminRoutes))]
    public async Task A_customer_token_gets_403_on_every_admin_route(string method, string path)
    {
        using HttpClient customer = _catalog.Api.CreateClient(TestTokens.Customer());

        HttpResponseMessage response = await customer.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = new StringContent("{}", Encoding.UTF8, "application/json"),
        });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [MemberData(nameof(AdminRoutes))]
    public async Task No_token_gets_401_on_every_admin_route(string method, string path)
    {
        using HttpClient anonymous = _catalog.Api.CreateClient();

        HttpResponseMessage response = await anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("/api/catalog/items?pageSize=0", "pageSize")]
    [InlineData("/api/catalog/items?pageSize=101", "pageSize")]
    [InlineData("/api/catalog/items?pageSize=twenty", "pageSize")]
    [InlineData("/api/catalog/items?pageIndex=-1", "pageIndex")]
    [InlineData("/api/catalog/items?brandId=x", "brandId")]
    [InlineData("/api/catalog/items?categoryId=0", "categoryId")]
    [InlineData("/api/catalog/items?minPrice=-1", "minPrice")]
    [InlineData("/api/catalog/items?minPrice=10&maxPrice=5", "maxPrice")]
    [InlineData("/api/catalog/items?sort=cheapest", "sort")]
    [InlineData("/api/catalog/items/abc", "id")]
    [InlineData("/api/catalog/items/99999999999", "id")]
    [InlineData("/api/catalog/items/by?ids=", "ids")]
    [InlineData("/api/catalog/items/by?ids=1,two,3", "ids")]
    public async Task Bad_paging_filters_and_ids_get_a_400_naming_the_parameter(string url, string parameter)
    {
        using HttpClient client = _catalog.Api.CreateClient();

        HttpResponseMessage response = await client.GetAsync(url);

        await AssertNamesAsync(response, parameter);
    }

    [Fact]
    public async Task More_than_100_ids_get_a_400_naming_ids()
    {
        using HttpClient client = _catalog.Api.CreateClient();

        HttpResponseMessage response = await client.GetAsync("/api/catalog/items/by?ids=" + string.Join(',', Enumerable.Range(1, 101)));

        await AssertNamesAsync(response, "ids");
    }

    [Theory]
    [InlineData("/api/catalog/items", "{\"name\":\"x\",\"price\":1,\"brandId\":1,\"categoryId\":1}", "sku")]
    [InlineData("/api/catalog/items", "{\"sku\":\"a\",\"name\":\"x\",\"price\":\"cheap\",\"brandId\":1,\"categoryId\":1}", "price")]
    [InlineData("/api/catalog/items", "{\"sku\":\"a\",\"name\":\"x\",\"price\":-1,\"brandId\":1,\"categoryId\":1}", "price")]
    [InlineData("/api/catalog/items", "{\"sku\":\"a\",\"name\":\"x\",\"price\":1.999,\"brandId\":1,\"categoryId\":1}", "price")]
    [InlineData("/api/catalog/items", "{\"sku\":\"a\",\"name\":\"x\",\"price\":1,\"brandId\":9999,\"categoryId\":1}", "brandId")]
    [InlineData("/api/catalog/items", "{not json", "body")]
    [InlineData("/api/catalog/stock/reservations", "{\"reservationId\":\"r1\",\"orderId\":\"o1\",\"items\":[]}", "items")]
    [InlineData("/api/catalog/stock/reservations", "{\"reservationId\":\"r 1\",\"orderId\":\"o1\",\"items\":[{\"productId\":1,\"quantity\":1}]}", "reservationId")]
    [InlineData("/api/catalog/stock/reservations", "{\"reservationId\":\"r1\",\"orderId\":\"o1\",\"items\":[{\"productId\":1,\"quantity\":0}]}", "items[0].quantity")]
    [InlineData("/api/catalog/stock/reservations", "{\"reservationId\":\"r1\",\"orderId\":\"o1\",\"items\":[{\"productId\":1,\"quantity\":1}],\"ttlSeconds\":0}", "ttlSeconds")]
    public async Task Bad_bodies_get_a_400_naming_the_member(string url, string json, string member)
    {
        using HttpClient admin = _catalog.Api.CreateAdminClient();

        HttpResponseMessage response = await admin.PostAsync(url, new StringContent(json, Encoding.UTF8, "application/json"));

        await AssertNamesAsync(response, member);
    }

    [Fact]
    public async Task An_update_with_a_stale_row_version_is_a_409()
    {
        using HttpClient admin = _catalog.Api.CreateAdminClient();
        CatalogItem item = (await admin.GetFromJsonAsync<CatalogItem>("/api/catalog/items/3"))!;
        object change = new { item.Name, item.Description, price = item.Price + 1, item.BrandId, item.CategoryId, item.RowVersion };

        HttpResponseMessage first = await admin.PutAsJsonAsync("/api/catalog/items/3", change);
        HttpResponseMessage stale = await admin.PutAsJsonAsync("/api/catalog/items/3", change);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(item.RowVersion + 1, (await first.Content.ReadFromJsonAsync<CatalogItem>())!.RowVersion);
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
    }

    [Fact]
    public async Task A_duplicate_sku_is_a_409()
    {
        CatalogItem existing = (await _catalog.Api.CreateClient().GetFromJsonAsync<CatalogItem>("/api/catalog/items/1"))!;
        using HttpClient admin = _catalog.Api.CreateAdminClient();

        HttpResponseMessage response = await admin.PostAsJsonAsync("/api/catalog/items",
            new { sku = existing.Sku, name = "Copy", price = 1m, brandId = 1, categoryId = 1 });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
    }

    [Fact]
    public async Task The_demo_catalog_has_at_least_200_products_across_brands_and_categories()
    {
        using HttpClient client = _catalog.Api.CreateClient();

        PaginatedItems<CatalogItem> page = (await client.GetFromJsonAsync<PaginatedItems<CatalogItem>>("/api/catalog/items?pageSize=100"))!;
        IReadOnlyList<CatalogBrand> brands = (await client.GetFromJsonAsync<IReadOnlyList<CatalogBrand>>("/api/catalog/brands"))!;
        IReadOnlyList<CatalogCategory> categories = (await client.GetFromJsonAsync<IReadOnlyList<CatalogCategory>>("/api/catalog/categories"))!;

        Assert.True(page.Count >= 200, $"{page.Count} products");
        Assert.Equal(100, page.Data.Count);
        Assert.True(brands.Count >= 5);
        Assert.True(categories.Count >= 5);
    }

    [Fact]
    public async Task Filters_and_sorting_narrow_and_order_the_list()
    {
        using HttpClient client = _catalog.Api.CreateClient();

        PaginatedItems<CatalogItem> page = (await client.GetFromJsonAsync<PaginatedItems<CatalogItem>>(
            "/api/catalog/items?categoryId=2&minPrice=50&maxPrice=200&sort=-price&pageSize=50"))!;

        Assert.NotEmpty(page.Data);
        Assert.All(page.Data, item => Assert.True(item.CategoryId == 2 && item.Price is >= 50 and <= 200));
        Assert.Equal(page.Data.OrderByDescending(item => item.Price).Select(item => item.Id), page.Data.Select(item => item.Id));
    }

    [Fact]
    public async Task Items_by_ids_returns_the_known_ones_in_the_order_asked()
    {
        using HttpClient client = _catalog.Api.CreateClient();

        IReadOnlyList<CatalogItem> items = (await client.GetFromJsonAsync<IReadOnlyList<CatalogItem>>("/api/catalog/items/by?ids=5,999999,2"))!;

        Assert.Equal([5, 2], items.Select(item => item.Id));
    }

    private static async Task AssertNamesAsync(HttpResponseMessage response, string member)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using JsonDocument problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.TryGetProperty("errors", out JsonElement errors), "the problem lists its errors");
        Assert.True(errors.TryGetProperty(member, out _), $"the errors name '{member}': {errors}");
    }
}
