using System.Net;
using Bazaar.IntegrationTests.Auth;
using Bazaar.IntegrationTests.Order;
using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Ordering;

namespace Bazaar.IntegrationTests.Admin;

/// <summary>
/// The admin's pages as the server renders them (the first render, before the circuit takes over) on the real order-api
/// and worker: what an admin sees, and the clear message for bad input.
/// </summary>
[Collection(OrderSystemCollection.Name)]
public sealed class AdminPagesTests(AdminSystemFixture fixture) : IClassFixture<AdminSystemFixture>, IAsyncLifetime
{
    private readonly AdminBrowser _browser = fixture.Browser();

    public async Task InitializeAsync()
    {
        using HttpResponseMessage signedIn = await _browser.SignInAsync(AuthApiFactory.AdminEmail, AuthApiFactory.AdminPassword);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
    }

    public Task DisposeAsync()
    {
        _browser.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task The_admin_sees_a_paid_order_in_the_list_filtered_by_status_and_its_history()
    {
        Guid orderId = await PaidOrderAsync();

        string paid = await PageAsync("/orders?status=Paid");
        string shipped = await PageAsync("/orders?status=Shipped");
        string detail = await PageAsync($"/orders/{orderId:N}");

        Assert.Contains($"data-order=\"{orderId:N}\"", paid, StringComparison.Ordinal);
        Assert.DoesNotContain($"data-order=\"{orderId:N}\"", shipped, StringComparison.Ordinal);
        Assert.Contains("id=\"ship\"", detail, StringComparison.Ordinal);
        Assert.Contains("StockReserved", detail, StringComparison.Ordinal); // the history, not only the current status
        Assert.Contains("Submitted", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/orders?status=Bogus", "One or more validation errors occurred.")] // order-api's own problem details
    [InlineData("/orders?page=abc", "Not a page number")]
    [InlineData("/orders?page=-1", "Not a page number")]
    [InlineData("/orders/not-an-order", "Not an order id")]
    [InlineData("/orders/00000000000000000000000000000001", "404")]
    [InlineData("/dead-letters?service=no%20such%20queue", "One or more validation errors occurred.")]
    [InlineData("/catalog?page=x", "Not a page number")]
    [InlineData("/catalog/abc", "Not a product id")]
    [InlineData("/catalog/999999999", "404")]
    public async Task Bad_input_shows_a_clear_problem_never_a_500(string path, string message)
    {
        using HttpResponseMessage response = await _browser.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string page = await response.Content.ReadAsStringAsync();
        Assert.Contains("class=\"problem-box\"", page, StringComparison.Ordinal);
        Assert.Contains(message, page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_dead_letters_page_lists_the_workers_queue_through_its_admin_endpoint()
    {
        string page = await PageAsync("/dead-letters?service=worker");

        Assert.Contains("id=\"dead-letter-count\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("class=\"problem-box\"", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_catalog_lists_a_new_product_and_its_page_shows_the_stock_from_the_admin_route()
    {
        int product = await fixture.System.CreateProductAsync(stock: 7);

        string list = await PageAsync("/catalog");
        string page = await PageAsync($"/catalog/{product}");

        Assert.Contains($"data-product=\"{product}\"", list, StringComparison.Ordinal);
        Assert.Contains("<strong id=\"available-stock\">7</strong>", page, StringComparison.Ordinal);
        Assert.Contains("<strong id=\"reserved-stock\">0</strong>", page, StringComparison.Ordinal);
    }

    private async Task<string> PageAsync(string path)
    {
        using HttpResponseMessage response = await _browser.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private async Task<Guid> PaidOrderAsync()
    {
        int product = await fixture.System.CreateProductAsync(stock: 5);
        using HttpClient customer = fixture.System.CustomerClient("admin-ui-buyer-" + Guid.NewGuid().ToString("N")[..8]);
        OrderAccepted accepted = await OrderSystem.PlaceAcceptedAsync(customer, OrderSystem.OrderBody(product));
        using HttpClient admin = fixture.System.AdminClient();
        await OrderSystem.WaitForStatusAsync(admin, accepted.OrderId, OrderStatus.Paid);
        return accepted.OrderId;
    }
}
