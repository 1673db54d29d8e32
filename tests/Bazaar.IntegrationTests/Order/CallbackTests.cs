using System.Collections.Concurrent;
using System.Data.Common;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Ordering;
using Bazaar.Worker.Callbacks;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using static Bazaar.IntegrationTests.Order.OrderSystem;

namespace Bazaar.IntegrationTests.Order;

/// <summary>Buyer callbacks: signed, retried when the receiver fails, given up after the last attempt, every attempt recorded.</summary>
[Collection(OrderSystemCollection.Name)]
public sealed class CallbackTests(OrderSystemFixture fixture) : IClassFixture<OrderSystemFixture>, IAsyncLifetime
{
    private readonly ConcurrentQueue<(string Signature, string Body, int Answered)> _received = new();
    private WebApplication _receiver = null!;
    private readonly ConcurrentQueue<string> _refused = new();
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
        _receiver.MapPost("/down", async (HttpRequest request) =>
        {
            string body = await new StreamReader(request.Body).ReadToEndAsync();
            _refused.Enqueue(body);
            return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
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
        // The worker records the attempt after the receiver has answered: wait for it rather than race it.
        string? state = null;
        await Poll.UntilAsync(async () =>
        {
            state = await connection.ExecuteScalarAsync<string>("SELECT state FROM order_callbacks WHERE order_id = @id", new { id = accepted.OrderId.ToString("N") });
            return state != "Pending";
        }, TimeSpan.FromSeconds(20), "the worker records the delivered attempt");
        Assert.Equal("Delivered", state);
        int?[] attempts = (await connection.QueryAsync<int?>("""
            SELECT a.status_code FROM order_callback_attempts a JOIN order_callbacks c ON c.id = a.callback_id
            WHERE c.order_id = @id ORDER BY a.attempt
            """, new { id = accepted.OrderId.ToString("N") })).ToArray();
        Assert.Equal([500, 204], attempts);
    }

    [Fact]
    public async Task A_callback_the_receiver_always_refuses_is_given_up_after_the_last_attempt_with_every_attempt_recorded()
    {
        OrderSystem system = fixture.System;
        int product = await system.CreateProductAsync(stock: 5);
        using HttpClient buyer = system.CustomerClient("callback-buyer-down");
        CallbackOptions options = system.Worker.Services.GetRequiredService<IOptions<CallbackOptions>>().Value;

        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product, paymentMethod: "test-decline", callbackUrl: _receiver.Urls.Single() + "/down"));
        await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.Cancelled);
        await using DbConnection connection = await system.OrderDatabase.OpenConnectionAsync();
        string? state = null;
        await Poll.UntilAsync(async () =>
        {
            state = await connection.ExecuteScalarAsync<string>("SELECT state FROM order_callbacks WHERE order_id = @id", new { id = accepted.OrderId.ToString("N") });
            return state != "Pending";
        }, TimeSpan.FromSeconds(60), () => $"the callback was given up (it is {state})");

        Assert.Equal("GaveUp", state);
        (int Attempt, int? StatusCode, string? Error)[] attempts = (await connection.QueryAsync<(int, int?, string?)>("""
            SELECT a.attempt, a.status_code, a.error FROM order_callback_attempts a JOIN order_callbacks c ON c.id = a.callback_id
            WHERE c.order_id = @id ORDER BY a.attempt
            """, new { id = accepted.OrderId.ToString("N") })).ToArray();
        Assert.Equal(Enumerable.Range(1, options.MaxAttempts), attempts.Select(a => a.Attempt));
        Assert.All(attempts, a => Assert.Equal(503, a.StatusCode));
        Assert.All(attempts, a => Assert.Equal("the receiver answered 503", a.Error));
        Assert.Equal(options.MaxAttempts, _refused.Count(body => body.Contains(accepted.OrderId.ToString(), StringComparison.Ordinal)));
    }
}
