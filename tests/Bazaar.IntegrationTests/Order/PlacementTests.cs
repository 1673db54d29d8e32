using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Bazaar.Order.Api.Apis;
using Microsoft.AspNetCore.Mvc;
using static Bazaar.IntegrationTests.Order.OrderSystem;

namespace Bazaar.IntegrationTests.Order;

/// <summary>Placing orders: one order per Idempotency-Key however often and however concurrently it is sent, and 400s that name the problem.</summary>
[Collection(OrderSystemCollection.Name)]
public sealed class PlacementTests(OrderSystemFixture fixture) : IClassFixture<OrderSystemFixture>
{
    private OrderSystem System => fixture.System;

    [Fact]
    public async Task The_same_key_sent_20_times_concurrently_creates_one_order()
    {
        int product = await System.CreateProductAsync(stock: 50);
        using HttpClient buyer = System.CustomerClient("buyer-retries");
        string key = Guid.NewGuid().ToString();
        object body = OrderBody(product, quantity: 2);

        HttpResponseMessage[] responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => PlaceAsync(buyer, body, key)));

        Assert.All(responses, response => Assert.Equal(HttpStatusCode.Accepted, response.StatusCode));
        OrderAccepted?[] answers = await Task.WhenAll(responses.Select(r => r.Content.ReadFromJsonAsync<OrderAccepted>()!));
        Assert.Single(answers.Select(answer => answer!.OrderId).Distinct());
        PaginatedItems<OrderSummary>? mine = await buyer.GetFromJsonAsync<PaginatedItems<OrderSummary>>("/api/orders");
        Assert.Equal(1, mine!.Count);
        await WaitForStatusAsync(buyer, answers[0]!.OrderId, Bazaar.Order.Api.Ordering.OrderStatus.Paid);
        Assert.Equal((48, 0), await System.StockAsync(product));
    }

    [Fact]
    public async Task The_same_key_with_another_body_is_a_422_and_another_buyer_may_use_the_same_key()
    {
        int product = await System.CreateProductAsync(stock: 50);
        using HttpClient buyer = System.CustomerClient("buyer-reuses-key");
        using HttpClient other = System.CustomerClient("buyer-same-key");
        string key = "order-2026-11-22";

        Assert.Equal(HttpStatusCode.Accepted, (await PlaceAsync(buyer, OrderBody(product, quantity: 1), key)).StatusCode);
        HttpResponseMessage reused = await PlaceAsync(buyer, OrderBody(product, quantity: 3), key);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.StatusCode);
        Assert.Equal("application/problem+json", reused.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Accepted, (await PlaceAsync(other, OrderBody(product, quantity: 3), key)).StatusCode);
    }

    [Fact]
    public async Task A_missing_or_overlong_Idempotency_Key_is_a_400()
    {
        int product = await System.CreateProductAsync(stock: 5);
        using HttpClient buyer = System.CustomerClient("buyer-no-key");

        HttpResponseMessage missing = await buyer.PostAsJsonAsync("/api/orders", OrderBody(product));
        HttpResponseMessage overlong = await PlaceAsync(buyer, OrderBody(product), new string('k', 101));

        Assert.Contains("Idempotency-Key", (await ProblemOf(missing, HttpStatusCode.BadRequest)).Errors.Keys);
        Assert.Contains("Idempotency-Key", (await ProblemOf(overlong, HttpStatusCode.BadRequest)).Errors.Keys);
    }

    [Fact]
    public async Task Bad_bodies_are_400s_naming_each_member()
    {
        int product = await System.CreateProductAsync(stock: 5);
        using HttpClient buyer = System.CustomerClient("buyer-bad-body");

        ValidationProblemDetails problems = await ProblemOf(await PlaceAsync(buyer, new
        {
            items = new object[] { new { productId = product, quantity = 101 }, new { productId = product, quantity = 1 }, new { productId = -1, quantity = 1 } },
            shippingAddress = new { name = "", line1 = "x", city = "y", postalCode = "z" },
            callbackUrl = "ftp://example.com/x",
        }), HttpStatusCode.BadRequest);
        Assert.Superset(
            new HashSet<string> { "items[0].quantity", "items[1].productId", "items[2].productId", "shippingAddress.name", "shippingAddress.country", "paymentMethod", "callbackUrl" },
            problems.Errors.Keys.ToHashSet());

        ValidationProblemDetails tooMany = await ProblemOf(await PlaceAsync(buyer, new
        {
            items = Enumerable.Range(1, 51).Select(id => new { productId = id, quantity = 1 }),
            shippingAddress = new { name = "a", line1 = "b", city = "c", postalCode = "d", country = "e" },
            paymentMethod = "card",
        }), HttpStatusCode.BadRequest);
        Assert.Contains("items", tooMany.Errors.Keys);

        using var malformed = new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = new StringContent("{\"items\": [", Encoding.UTF8, "application/json") };
        malformed.Headers.Add("Idempotency-Key", "malformed");
        await ProblemOf(await buyer.SendAsync(malformed), HttpStatusCode.BadRequest);

        ValidationProblemDetails unknown = await ProblemOf(await PlaceAsync(buyer, OrderBody(int.MaxValue - 7)), HttpStatusCode.BadRequest);
        Assert.Contains((int.MaxValue - 7).ToString(CultureInfo.InvariantCulture), unknown.Errors["items"][0]);
    }

    [Fact]
    public async Task Prices_come_from_the_catalog_not_from_the_client()
    {
        int product = await System.CreateProductAsync(stock: 5, price: 7.25m);
        using HttpClient buyer = System.CustomerClient("buyer-price");

        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, new
        {
            items = new[] { new { productId = product, quantity = 2, unitPrice = 0.01m } },
            shippingAddress = new { name = "a", line1 = "b", city = "c", postalCode = "d", country = "e" },
            paymentMethod = "card",
            total = 0.02m,
        });

        OrderDetails order = await GetOrderAsync(buyer, accepted.OrderId);
        Assert.Equal(14.50m, order.Total);
        Assert.Equal(7.25m, Assert.Single(order.Items).UnitPrice);
    }

    [Fact]
    public async Task Only_customers_place_orders()
    {
        int product = await System.CreateProductAsync(stock: 5);
        using HttpClient anonymous = System.Orders.CreateClient();
        using HttpClient admin = System.AdminClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await PlaceAsync(anonymous, OrderBody(product))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await PlaceAsync(admin, OrderBody(product))).StatusCode);
    }

    private static async Task<ValidationProblemDetails> ProblemOf(HttpResponseMessage response, HttpStatusCode expected)
    {
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadFromJsonAsync<ValidationProblemDetails>(JsonSerializerOptions.Web))!;
    }
}
