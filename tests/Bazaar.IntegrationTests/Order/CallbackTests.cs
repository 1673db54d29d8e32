using System.Collections.Concurrent;
using System.Data.Common;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Ordering;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using static Bazaar.IntegrationTests.Order.OrderSystem;

namespace Bazaar.IntegrationTests.Order;

/// <summary>Buyer callbacks: signed, retried when the receiver fails, every attempt recorded.</summary>
[Collection(OrderSystemCollection.Name)]
public sealed class CallbackTests(OrderSystemFixture fixture) : IClassFixture<OrderSystemFixture>, IAsyncLifetime
{
    private readonly ConcurrentQueue<(string Signature, string Body, int Answered)> _received = new();
    private WebApplication _receiver = null!;
    private int _failuresLeft = 1;

    public async Task InitializeAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _receiver = builder.Build();
        _receiver.MapPost("/hook", async (HttpRequest request) =>
        {
            string body = await new StreamReader(request.Body).ReadToEndAsync();
            int status = Interlocked.Decrement(ref _failuresLeft) >= 0 ? StatusCodes.Status500InternalServerError : StatusCodes.Status204NoContent;
            _received.Enqueue((request.Headers["X-Bazaar-Signature"].ToString(), body, status));
            return Results.StatusCode(status);
        });
        await _receiver.StartAsync();
    }

    public async Task DisposeAsync() => await _receiver.DisposeAsync();

    [Fact]
    public async Task The_callback_arrives_signed_and_is_retried_when_the_receiver_fails_once()
    {
        OrderSystem system = fixture.System;
        int product = await system.CreateProductAsync(stock: 5);
        using HttpClient buyer = system.CustomerClient("callback-buyer");
        string hook = _receiver.Urls.Single() + "/hook";

        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product, callbackUrl: hook));
        await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.Paid);
        await Poll.UntilAsync(() => Task.FromResult(_received.Count >= 2), TimeSpan.FromSeconds(20), "the callback was delivered on its second attempt");

        (string Signature, string Body, int Answered)[] received = _received.ToArray();
        Assert.Equal([500, 204], received.Select(r => r.Answered));
        foreach ((string signature, string body, _) in received)
        {
            string expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(CallbackSecret), Encoding.UTF8.GetBytes(body)));
            Assert.Equal(expected, signature);
            OrderCallback callback = JsonSerializer.Deserialize<OrderCallback>(body, JsonSerializerOptions.Web)!;
            Assert.Equal(accepted.OrderId, callback.OrderId);
            Assert.Equal(OrderStatus.Paid, callback.Status);
        }

        await using DbConnection connection = await system.OrderDatabase.OpenConnectionAsync();
        Assert.Equal("Delivered", await connection.ExecuteScalarAsync<string>(
            "SELECT state FROM order_callbacks WHERE order_id = @id", new { id = accepted.OrderId.ToString("N") }));
        int?[] attempts = (await connection.QueryAsync<int?>("""
            SELECT a.status_code FROM order_callback_attempts a JOIN order_callbacks c ON c.id = a.callback_id
            WHERE c.order_id = @id ORDER BY a.attempt
            """, new { id = accepted.OrderId.ToString("N") })).ToArray();
        Assert.Equal([500, 204], attempts);
    }
}
