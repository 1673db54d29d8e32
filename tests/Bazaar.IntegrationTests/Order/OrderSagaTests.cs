using Bazaar.Data;
using System.Data.Common;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bazaar.IntegrationTests.Auth;
using Bazaar.Messaging;
using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Ordering;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using static Bazaar.IntegrationTests.Order.OrderSystem;

namespace Bazaar.IntegrationTests.Order;

/// <summary>The saga's paths on the real servers: paid and delivered, declined, timed out, out of stock, cancelled by the buyer.</summary>
[Collection(OrderSystemCollection.Name)]
public sealed class OrderSagaTests(OrderSystemFixture fixture) : IClassFixture<OrderSystemFixture>
{
    private OrderSystem System => fixture.System;

    [Fact]
    public async Task A_paid_order_is_shipped_and_delivered_with_every_step_in_its_history()
    {
        int product = await System.CreateProductAsync(stock: 5, price: 20m);
        using HttpClient buyer = System.CustomerClient("buyer-happy");
        using HttpClient admin = System.AdminClient();

        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product, quantity: 2));
        Assert.Equal(OrderStatus.Submitted, accepted.Status);
        Assert.Equal($"/api/orders/{accepted.OrderId:N}", accepted.StatusUrl);
        Assert.Equal($"/api/orders/{accepted.OrderId:N}/events", accepted.EventsUrl);

        OrderDetails paid = await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.Paid);
        Assert.Equal(40m, paid.Total);
        Assert.Equal((3, 0), await System.StockAsync(product));

        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/api/orders/{accepted.OrderId:N}/ship", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/api/orders/{accepted.OrderId:N}/deliver", null)).StatusCode);

        OrderDetails delivered = await GetOrderAsync(buyer, accepted.OrderId);
        Assert.Equal(
            [OrderStatus.Submitted, OrderStatus.StockReserved, OrderStatus.Paid, OrderStatus.Shipped, OrderStatus.Delivered],
            delivered.History.Select(entry => entry.Status));
        Assert.Equal([1, 2, 3, 4, 5], delivered.History.Select(entry => entry.Seq));
    }

    [Fact]
    public async Task A_declined_payment_cancels_the_order_and_returns_its_stock()
    {
        int product = await System.CreateProductAsync(stock: 3);
        using HttpClient buyer = System.CustomerClient("buyer-declined");

        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product, quantity: 2, paymentMethod: "test-decline"));

        OrderDetails cancelled = await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.Cancelled);
        Assert.Contains("declined", cancelled.StatusReason);
        await WaitForStockAsync(product, (3, 0));
        Assert.DoesNotContain(cancelled.OrderId.ToString("N"), (await System.HeldChargesAsync()).Keys);
    }

    [Fact]
    public async Task A_payment_that_never_answers_times_out_and_returns_the_stock()
    {
        int product = await System.CreateProductAsync(stock: 3);
        using HttpClient buyer = System.CustomerClient("buyer-timeout");

        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product, quantity: 1, paymentMethod: "test-timeout"));

        await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.StockReserved);
        OrderDetails cancelled = await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.Cancelled);
        Assert.Contains("payment timed out", cancelled.StatusReason);
        await WaitForStockAsync(product, (3, 0));
    }

    [Fact]
    public async Task An_order_for_more_than_the_stock_is_rejected_naming_the_product_and_takes_nothing()
    {
        int plenty = await System.CreateProductAsync(stock: 10);
        int scarce = await System.CreateProductAsync(stock: 1);
        using HttpClient buyer = System.CustomerClient("buyer-short");

        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, new
        {
            items = new[] { new { productId = plenty, quantity = 2 }, new { productId = scarce, quantity = 2 } },
            shippingAddress = new { name = "Ada", line1 = "1 Street", city = "Town", postalCode = "1", country = "NL" },
            paymentMethod = "card",
        });

        OrderDetails rejected = await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.Rejected);
        Assert.Contains($"product {scarce}", rejected.StatusReason);
        Assert.Equal((10, 0), await System.StockAsync(plenty));
        Assert.Equal((1, 0), await System.StockAsync(scarce));
    }

    [Fact]
    public async Task The_buyer_can_cancel_until_the_order_is_paid_and_the_stock_comes_back()
    {
        int product = await System.CreateProductAsync(stock: 4);
        using HttpClient buyer = System.CustomerClient("buyer-cancels");

        OrderAccepted waiting = await PlaceAcceptedAsync(buyer, OrderBody(product, quantity: 3, paymentMethod: "test-timeout"));
        await WaitForStatusAsync(buyer, waiting.OrderId, OrderStatus.StockReserved);
        HttpResponseMessage cancel = await buyer.PostAsync($"/api/orders/{waiting.OrderId:N}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal(OrderStatus.Cancelled, (await cancel.Content.ReadFromJsonAsync<OrderDetails>())!.Status);
        await WaitForStockAsync(product, (4, 0));

        OrderAccepted paid = await PlaceAcceptedAsync(buyer, OrderBody(product, quantity: 1));
        await WaitForStatusAsync(buyer, paid.OrderId, OrderStatus.Paid);
        HttpResponseMessage tooLate = await buyer.PostAsync($"/api/orders/{paid.OrderId:N}/cancel", null);
        Assert.Equal(HttpStatusCode.Conflict, tooLate.StatusCode);
        Assert.Equal("application/problem+json", tooLate.Content.Headers.ContentType?.MediaType);
        // One "status" member (the HTTP status); the order's own status is "orderStatus".
        using JsonDocument problem = JsonDocument.Parse(await tooLate.Content.ReadAsStringAsync());
        Assert.Single(problem.RootElement.EnumerateObject(), member => member.Name == "status");
        Assert.Equal(409, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("Paid", problem.RootElement.GetProperty("orderStatus").GetString());
    }

    [Fact]
    public async Task Illegal_transitions_are_refused_with_409_and_change_nothing()
    {
        int product = await System.CreateProductAsync(stock: 2);
        using HttpClient buyer = System.CustomerClient("buyer-illegal");
        using HttpClient admin = System.AdminClient();
        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product));
        await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.Paid);

        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync($"/api/orders/{accepted.OrderId:N}/deliver", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/api/orders/{accepted.OrderId:N}/ship", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync($"/api/orders/{accepted.OrderId:N}/ship", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await buyer.PostAsync($"/api/orders/{accepted.OrderId:N}/cancel", null)).StatusCode);
        Assert.Equal(OrderStatus.Shipped, (await GetOrderAsync(buyer, accepted.OrderId)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await buyer.PostAsync($"/api/orders/{accepted.OrderId:N}/deliver", null)).StatusCode);
    }

    [Fact]
    public async Task Another_buyer_cannot_see_or_cancel_an_order_and_lists_only_their_own()
    {
        int product = await System.CreateProductAsync(stock: 2);
        using HttpClient owner = System.CustomerClient("buyer-owner");
        using HttpClient stranger = System.CustomerClient("buyer-stranger");
        using HttpClient admin = System.AdminClient();
        OrderAccepted accepted = await PlaceAcceptedAsync(owner, OrderBody(product));

        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync($"/api/orders/{accepted.OrderId:N}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync($"/api/orders/{accepted.OrderId:N}/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/api/orders/{accepted.OrderId:N}")).StatusCode);

        PaginatedItems<OrderSummary>? mine = await owner.GetFromJsonAsync<PaginatedItems<OrderSummary>>("/api/orders?pageSize=10");
        Assert.Equal([accepted.OrderId], mine!.Data.Select(order => order.OrderId));
        PaginatedItems<OrderSummary>? theirs = await stranger.GetFromJsonAsync<PaginatedItems<OrderSummary>>("/api/orders");
        Assert.Empty(theirs!.Data);
        PaginatedItems<OrderSummary>? filtered = await admin.GetFromJsonAsync<PaginatedItems<OrderSummary>>("/api/orders?userId=buyer-owner");
        Assert.Equal([accepted.OrderId], filtered!.Data.Select(order => order.OrderId));
        Assert.Equal(HttpStatusCode.BadRequest, (await owner.GetAsync("/api/orders?pageSize=1000")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await owner.GetAsync("/api/orders?status=Lost")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await System.Orders.CreateClient().GetAsync("/api/orders")).StatusCode);
    }

    [Fact]
    public async Task Reserving_and_paying_are_one_step_with_no_event_between_them()
    {
        int product = await System.CreateProductAsync(stock: 2);
        using HttpClient buyer = System.CustomerClient("buyer-one-step");

        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product));
        OrderDetails paid = await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.Paid);

        Assert.Equal([OrderStatus.Submitted, OrderStatus.StockReserved, OrderStatus.Paid], paid.History.Select(entry => entry.Status));
        await using DbConnection connection = await System.OrderDatabase.OpenConnectionAsync();
        long between = await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM outbox WHERE event_type = 'order.stock-reserved' AND body LIKE @order", new { order = $"%{accepted.OrderId}%" });
        Assert.Equal(0, between);
    }

    [Fact]
    public async Task An_order_redelivered_after_a_crash_that_followed_its_charge_and_stock_commit_ends_paid_and_charged_once()
    {
        int product = await System.CreateProductAsync(stock: 3);
        using HttpClient buyer = System.CustomerClient("buyer-redelivered");
        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product));
        OrderDetails first = await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.Paid);
        string id = accepted.OrderId.ToString("N");

        // As if the worker had reserved, charged and committed the stock, then died before its transaction committed...
        await using (DbConnection connection = await System.OrderDatabase.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("""
                UPDATE orders SET status = 'Submitted', status_reason = NULL, seq = 1 WHERE id = @id;
                DELETE FROM order_history WHERE order_id = @id AND seq > 1
                """, new { id });
        }

        // ...and the broker handed order.submitted out again.
        IOutbox outbox = System.Orders.Services.GetRequiredService<IOutbox>();
        var submitted = new OrderSubmitted(accepted.OrderId, first.UserId,
            first.Items.Select(item => new OrderLine(item.ProductId, item.ProductName, item.UnitPrice, item.Quantity)).ToList(), first.Total, "card");
        await System.OrderDatabase.InTransactionAsync((_, transaction, token) => outbox.AddAsync(transaction, submitted, id, token));

        OrderDetails again = await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.Paid);
        Assert.Equal([OrderStatus.Submitted, OrderStatus.StockReserved, OrderStatus.Paid], again.History.Select(entry => entry.Status));
        Assert.Equal(1, (await System.HeldChargesAsync()).GetValueOrDefault(id));
        Assert.Equal((2, 0), await System.StockAsync(product));
    }

    [Fact]
    public void The_worker_takes_enough_messages_for_every_consumer_transaction_to_fill_its_batch()
    {
        MessagingOptions messaging = System.Worker.Services.GetRequiredService<IOptions<MessagingOptions>>().Value;

        // Each transaction runs its batch's saga steps one after another, each waiting on the payment provider: with
        // less prefetch a backlog would keep only some of the transactions busy.
        Assert.True(messaging.PrefetchCount >= messaging.MaxConcurrency * messaging.ConsumerBatchSize,
            $"Prefetch {messaging.PrefetchCount} for {messaging.MaxConcurrency} transactions of up to {messaging.ConsumerBatchSize}.");
    }

    private async Task WaitForStockAsync(int productId, (int Available, int Reserved) expected)
    {
        await Poll.UntilAsync(async () => await System.StockAsync(productId) == expected, TimeSpan.FromSeconds(20),
            $"product {productId} has available/reserved {expected}");
    }
}
