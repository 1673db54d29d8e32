using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Bazaar.IntegrationTests.Auth;
using Bazaar.Messaging;
using Bazaar.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bazaar.IntegrationTests.Messaging;

/// <summary>The operator endpoints as the worker maps them, behind the platform's real authentication.</summary>
public sealed class DeadLetterEndpointTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Dead_letters_can_be_listed_and_requeued_by_an_admin_only()
    {
        var servers = await TestServers.SharedAsync();
        await using var scenario = await MessagingScenario.CreateAsync("dlqapi");
        var broken = true;
        var probe = new HandlerProbe { ShouldFail = (_, _) => Volatile.Read(ref broken) };

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{MessagingScenario.Database}"] = scenario.DatabaseConnectionString,
            ["ConnectionStrings:messaging"] = scenario.RabbitMqConnectionString,
            ["ConnectionStrings:cache"] = servers.RedisConnectionString,
        });
        builder.Configuration.AddInMemoryCollection(TestTokens.Settings);
        builder.AddMySqlDataSource(MessagingScenario.Database);
        builder.AddRabbitMQClient("messaging");
        builder.AddRedisClient("cache");
        builder.AddDefaultAuthentication();
        builder.Services.AddSingleton(probe);
        builder.AddMessaging(MessagingScenario.Database, o =>
        {
            o.Prefix = scenario.Prefix;
            o.ServiceName = "consumer";
            o.RetryDelays = [TimeSpan.FromMilliseconds(100)];
            o.RelayPollInterval = TimeSpan.FromMilliseconds(50);
        }).AddOutbox().AddConsumer<ItemAdded, RecordingHandler>();
        builder.AddMigrations(MessagingScenario.Database, "Tests", MessagingScenario.EffectsMigrations);
        await using var app = builder.Build();
        app.MapDeadLetterEndpoints();
        await app.StartAsync();
        await app.Services.GetRequiredService<EventConsumerHost>().Ready.WaitAsync(Timeout);
        using var client = app.GetTestClient();

        var envelope = await scenario.CommitStateChangeAsync(app.Services.GetRequiredService<IOutbox>(), "sku-api");

        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(client, HttpMethod.Get, "/api/messaging/dead-letters/consumer", token: null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(client, HttpMethod.Get, "/api/messaging/dead-letters/consumer", TestTokens.Customer())).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(client, HttpMethod.Get, "/api/messaging/dead-letters/nobody", TestTokens.Admin())).StatusCode);
        var invalid = await SendAsync(client, HttpMethod.Get, "/api/messaging/dead-letters/consumer?limit=0", TestTokens.Admin());
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Equal("application/problem+json", invalid.Content.Headers.ContentType?.MediaType);

        DeadLetterEndpoints.DeadLetterList? list = null;
        await Eventually.HoldsAsync(async () =>
        {
            list = await (await SendAsync(client, HttpMethod.Get, "/api/messaging/dead-letters/consumer", TestTokens.Admin())).Content.ReadFromJsonAsync<DeadLetterEndpoints.DeadLetterList>();
            return list?.Count == 1;
        }, Timeout, "the failing event is dead-lettered");
        Assert.Equal(envelope.Id.ToString(), Assert.Single(list!.Items).MessageId);

        Volatile.Write(ref broken, false);
        var requeue = await SendAsync(client, HttpMethod.Post, "/api/messaging/dead-letters/consumer/requeue", TestTokens.Admin(), new { messageIds = new[] { envelope.Id.ToString() } });
        Assert.Equal(HttpStatusCode.OK, requeue.StatusCode);
        Assert.Equal(1, (await requeue.Content.ReadFromJsonAsync<DeadLetterEndpoints.RequeueResult>())!.Requeued);

        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() == 1, Timeout, "the re-queued event is handled");
        await app.StopAsync();
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string? token, object? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return client.SendAsync(request);
    }
}
