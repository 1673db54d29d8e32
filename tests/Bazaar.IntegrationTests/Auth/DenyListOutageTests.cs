using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Bazaar.ServiceDefaults.Authentication;
using Bazaar.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Bazaar.IntegrationTests.Auth;

/// <summary>
/// A service whose deny list lives on a Redis of the test's own, which the test stops and starts: a valid token waits
/// out a short outage instead of being refused, and is still refused (fail closed) when Redis stays away.
/// </summary>
public sealed class DenyListOutageTests : IAsyncLifetime
{
    private TestServers _redis = null!;

    public async Task InitializeAsync() => _redis = await TestServers.StartDedicatedAsync(redis: true, rabbitMq: false, mySql: false);

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task A_token_checked_while_Redis_restarts_waits_for_the_deny_list_and_is_accepted()
    {
        await using WebApplication service = await StartServiceAsync(denyListWait: TimeSpan.FromSeconds(20));
        using HttpClient client = service.GetTestClient();
        string token = TestTokens.Customer();
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, token));

        await _redis.StopServerAsync(TestServers.Redis);
        Task<HttpStatusCode> duringOutage = StatusAsync(client, token);
        await _redis.StartServerAsync(TestServers.Redis);

        Assert.Equal(HttpStatusCode.OK, await duringOutage);
    }

    [Fact]
    public async Task While_Redis_stays_down_a_token_is_refused_once_the_wait_is_over()
    {
        TimeSpan wait = TimeSpan.FromMilliseconds(300);
        await using WebApplication service = await StartServiceAsync(wait);
        using HttpClient client = service.GetTestClient();
        string token = TestTokens.Customer();
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(client, token));

        await _redis.StopServerAsync(TestServers.Redis);
        var clock = Stopwatch.StartNew();
        HttpStatusCode status = await StatusAsync(client, token);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.True(clock.Elapsed >= wait, $"refused after {clock.Elapsed.TotalMilliseconds:F0} ms, before the {wait.TotalMilliseconds} ms wait");
    }

    private async Task<WebApplication> StartServiceAsync(TimeSpan denyListWait)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(TestTokens.Settings);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = _redis.RedisConnectionString,
            ["Authentication:DenyListWait"] = denyListWait.ToString(),
        });
        builder.AddServiceDefaults();
        builder.AddRedisClient("cache");
        builder.AddDefaultAuthentication();

        WebApplication service = builder.Build();
        service.MapGet("/customers", () => "customer").RequireAuthorization(AuthenticationConventions.Policies.Customer);
        await service.StartAsync();
        return service;
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/customers");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using HttpResponseMessage response = await client.SendAsync(request);
        return response.StatusCode;
    }
}
