using Bazaar.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Bazaar.IntegrationTests.Auth;
using Bazaar.Order.Api;
using Bazaar.Order.Api.Apis;
using Dapper;
using Microsoft.AspNetCore.Mvc;
using static Bazaar.IntegrationTests.Order.OrderSystem;

namespace Bazaar.IntegrationTests.Order;

/// <summary>Placement protection: a per-user rate limit, a concurrency limit on the whole endpoint, and an answer at once (503 + Retry-After) when the catalog is down.</summary>
[Collection(OrderSystemCollection.Name)]
public sealed class ProtectionTests(OrderSystemFixture fixture) : IClassFixture<OrderSystemFixture>
{
    [Fact]
    public async Task A_buyer_over_the_rate_gets_429_with_Retry_After_while_others_still_order()
    {
        OrderSystem system = fixture.System;
        int product = await system.CreateProductAsync(stock: 100);
        await using ServiceHost<OrderApiEntryPoint> limited = system.StartOrderReplica(settings =>
        {
            settings["Orders:Placement:TokensPerUser"] = "3";
            settings["Orders:Placement:TokensPerSecond"] = "1";
        });
        using HttpClient eager = limited.CreateClient(TestTokens.Customer("eager-buyer"));
        using HttpClient calm = limited.CreateClient(TestTokens.Customer("calm-buyer"));

        HttpResponseMessage[] burst = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => PlaceAsync(eager, OrderBody(product))));

        Assert.InRange(burst.Count(r => r.StatusCode == HttpStatusCode.Accepted), 3, 4);
        HttpResponseMessage refused = burst.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.NotNull(refused.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Accepted, (await PlaceAsync(calm, OrderBody(product))).StatusCode);
    }

    [Fact]
    public async Task With_every_placement_slot_taken_the_next_buyer_gets_503_with_Retry_After_at_once_and_the_held_order_still_completes()
    {
        OrderSystem system = fixture.System;
        int product = await system.CreateProductAsync(stock: 10);
        await using ServiceHost<OrderApiEntryPoint> narrow = system.StartOrderReplica(settings =>
        {
            settings["Orders:Placement:ConcurrencyLimit"] = "1";
            settings["Orders:Placement:ConcurrencyQueue"] = "0";
        });
        using HttpClient first = narrow.CreateClient(TestTokens.Customer("slot-holder"));
        using HttpClient second = narrow.CreateClient(TestTokens.Customer("slot-waiter"));
        await PlaceAcceptedAsync(first, OrderBody(product)); // prices cached, connections open: the held order waits only on the lock

        Task<HttpResponseMessage> held;
        HttpResponseMessage refused;
        await using (DbConnection lockHolder = await system.OrderDatabase.OpenConnectionAsync())
        {
            // While orders is locked the first placement waits inside its INSERT, holding the endpoint's only slot.
            await lockHolder.ExecuteAsync("LOCK TABLES orders WRITE");
            try
            {
                held = PlaceAsync(first, OrderBody(product));
                await Poll.UntilAsync(async () => await system.OrderDatabase.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(new CommandDefinition(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'INSERT INTO orders%'", cancellationToken: t))) > 0,
                    TimeSpan.FromSeconds(30), "the held placement is waiting for the lock");

                // Answered while the slot is still held (the lock ends only after this answer): refused at once, not queued.
                refused = await PlaceAsync(second, OrderBody(product)).WaitAsync(TimeSpan.FromSeconds(30));
            }
            finally
            {
                await lockHolder.ExecuteAsync("UNLOCK TABLES");
            }
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Too busy", (await refused.Content.ReadFromJsonAsync<ProblemDetails>())!.Title);
        Assert.Equal(HttpStatusCode.Accepted, (await held).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await PlaceAsync(second, OrderBody(product))).StatusCode);
    }

    [Fact]
    public async Task With_the_catalog_down_the_circuit_opens_and_placement_answers_503_at_once_while_reads_work()
    {
        OrderSystem system = fixture.System;
        int product = await system.CreateProductAsync(stock: 10);
        using HttpClient buyer = system.CustomerClient("buyer-before-outage");
        OrderAccepted earlier = await PlaceAcceptedAsync(buyer, OrderBody(product));
        await using ServiceHost<OrderApiEntryPoint> cutOff = system.StartOrderReplica(settings =>
        {
            settings["Catalog:BaseAddress"] = "http://127.0.0.1:1"; // nothing listens there: connections are refused
            settings["Catalog:MinimumThroughput"] = "2";
            settings["Catalog:BreakDuration"] = "00:00:30";
        }, wireCatalog: false);
        using HttpClient client = cutOff.CreateClient(TestTokens.Customer("buyer-before-outage"));

        ProblemDetails? open = null;
        TimeSpan answeredIn = TimeSpan.Zero;
        for (int attempt = 0; attempt < 10 && open is null; attempt++)
        {
            var clock = Stopwatch.StartNew();
            HttpResponseMessage response = await PlaceAsync(client, OrderBody(product));
            answeredIn = clock.Elapsed;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.NotNull(response.Headers.RetryAfter?.Delta);
            ProblemDetails problem = (await response.Content.ReadFromJsonAsync<ProblemDetails>())!;
            if (problem.Detail!.Contains("circuit is open", StringComparison.Ordinal))
            {
                open = problem;
            }
        }

        Assert.NotNull(open);
        Assert.True(answeredIn < TimeSpan.FromSeconds(1), $"An open circuit answered in {answeredIn}.");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/orders/{earlier.OrderId:N}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/orders")).StatusCode);
    }
}
