using Bazaar.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Bazaar.IntegrationTests.Auth;
using Bazaar.Order.Api;
using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Ordering;
using Bazaar.Order.Api.Placement;
using Dapper;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
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
    public async Task A_group_commit_with_a_replay_and_a_key_sent_twice_places_the_new_orders_answers_the_replay_with_the_first_order_and_each_event_keeps_its_own_trace()
    {
        int product = await System.CreateProductAsync(stock: 1000);
        // One writer loop, so the orders sent while its first group is held up all wait and form the next group together;
        // one buyer sends them all, so its token bucket must allow the burst.
        await using ServiceHost<OrderApiEntryPoint> replica = System.StartOrderReplica(settings =>
        {
            settings["Orders:Placement:Batch:Writers"] = "1";
            settings["Orders:Placement:TokensPerUser"] = "100";
        });
        PlacementWriter writer = replica.Services.GetRequiredService<PlacementWriter>();
        using HttpClient buyer = replica.CreateClient(TestTokens.Customer("buyer-in-a-group"));
        using ActivityListener requestsTraced = TraceRequests();
        OrderAccepted first = await AcceptedAsync(await PlaceAsync(buyer, OrderBody(product), "first-key"));

        Task<HttpResponseMessage> held;
        var sent = new List<(string Key, string TraceId, Task<HttpResponseMessage> Response)>();
        await using (DbConnection lockHolder = await System.OrderDatabase.OpenConnectionAsync())
        {
            // While orders is locked, the writer's first group waits inside its INSERT; everything after it queues.
            // The lock must end whatever happens: a pooled connection would otherwise keep it for the next user.
            await lockHolder.ExecuteAsync("LOCK TABLES orders WRITE");
            try
            {
                held = PlaceTracedAsync(buyer, OrderBody(product), "held-key", ActivityTraceId.CreateRandom());
                await Poll.UntilAsync(async () => await System.OrderDatabase.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(new CommandDefinition(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'INSERT INTO orders%'", cancellationToken: t))) > 0,
                    TimeSpan.FromSeconds(30), "the first group is waiting for the lock");

                foreach ((string key, object body) in Enumerable.Range(0, 20).Select(i => ($"new-{i}", OrderBody(product)))
                             .Append(("first-key", OrderBody(product)))
                             .Append(("twice-key", OrderBody(product, quantity: 1)))
                             .Append(("twice-key", OrderBody(product, quantity: 2))))
                {
                    ActivityTraceId trace = ActivityTraceId.CreateRandom();
                    sent.Add((key, trace.ToHexString(), PlaceTracedAsync(buyer, body, key, trace)));
                }

                await Poll.UntilAsync(() => Task.FromResult(writer.Waiting == sent.Count), TimeSpan.FromSeconds(30), () => $"{writer.Waiting} of {sent.Count} orders are queued for the next group");
            }
            finally
            {
                await lockHolder.ExecuteAsync("UNLOCK TABLES");
            }

        }

        await AcceptedAsync(await held);
        HttpResponseMessage[] responses = await Task.WhenAll(sent.Select(s => s.Response));
        OrderAccepted[] placed = await Task.WhenAll(responses.Take(20).Select(AcceptedAsync));
        Assert.Equal(20, placed.Select(order => order.OrderId).Distinct().Count());
        Assert.DoesNotContain(first.OrderId, placed.Select(order => order.OrderId));
        Assert.Equal(first.OrderId, (await AcceptedAsync(responses[20])).OrderId);
        Assert.Equal(
            new[] { HttpStatusCode.Accepted, HttpStatusCode.UnprocessableEntity },
            new[] { responses[21].StatusCode, responses[22].StatusCode }.Order().ToArray());
        PaginatedItems<OrderSummary>? mine = await buyer.GetFromJsonAsync<PaginatedItems<OrderSummary>>("/api/orders?pageSize=100");
        Assert.Equal(1 + 1 + 20 + 1, mine!.Count);

        // The event of each new order carries the trace of the request that placed it, not one of the group's.
        for (int i = 0; i < placed.Length; i++)
        {
            IEnumerable<string?> traces = await System.OrderDatabase.WithConnectionAsync((c, t) => c.QueryAsync<string?>(new CommandDefinition(
                "SELECT trace_parent FROM outbox WHERE event_type = @type AND body LIKE @id",
                new { type = OrderSubmitted.EventType, id = $"%{placed[i].OrderId:N}%" }, cancellationToken: t)));
            Assert.StartsWith($"00-{sent[i].TraceId}-", Assert.Single(traces));
        }
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

    private static async Task<HttpResponseMessage> PlaceTracedAsync(HttpClient client, object body, string key, ActivityTraceId trace)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key);
        request.Headers.Add("traceparent", $"00-{trace.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        return await client.SendAsync(request);
    }

    // Without a listener (no OTLP endpoint in tests) ASP.NET Core starts no request activity, and there would be no trace to keep.
    private static ActivityListener TraceRequests()
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private static async Task<ValidationProblemDetails> ProblemOf(HttpResponseMessage response, HttpStatusCode expected)
    {
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadFromJsonAsync<ValidationProblemDetails>(JsonSerializerOptions.Web))!;
    }
}
