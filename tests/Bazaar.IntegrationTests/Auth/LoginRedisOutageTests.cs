using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bazaar.Testing;

namespace Bazaar.IntegrationTests.Auth;

/// <summary>
/// auth-api's login on a Redis of the test's own (lockout counters live there): while Redis is gone, a login is
/// answered 503 with Retry-After in problem details, not 500.
/// </summary>
public sealed class LoginRedisOutageTests : IAsyncLifetime
{
    private TestServers _redis = null!;
    private AuthApiFactory _api = null!;

    public async Task InitializeAsync()
    {
        _redis = await TestServers.StartDedicatedAsync(redis: true, rabbitMq: false, mySql: false);
        _api = await AuthApiFactory.StartAsync(settings => settings["ConnectionStrings:cache"] = _redis.RedisConnectionString);
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task While_Redis_is_stopped_a_login_gets_503_with_Retry_After_and_works_again_once_it_is_back()
    {
        (string email, string password, _) = await _api.RegisterAndLoginAsync("redis-down");
        using HttpClient client = _api.CreateClient();

        await _redis.StopServerAsync(TestServers.Redis);
        using (HttpResponseMessage refused = await client.PostAsJsonAsync("/api/auth/login", new { email, password }))
        {
            await AssertUnavailableAsync(refused);
        }

        await _redis.StartServerAsync(TestServers.Redis);
        var clock = Stopwatch.StartNew();
        HttpStatusCode status;
        do
        {
            // The client reconnects on its own schedule; a 503 meanwhile is the answer under test.
            using HttpResponseMessage again = await client.PostAsJsonAsync("/api/auth/login", new { email, password });
            status = again.StatusCode;
            if (status == HttpStatusCode.ServiceUnavailable)
            {
                await Task.Delay(200);
            }
        }
        while (status == HttpStatusCode.ServiceUnavailable && clock.Elapsed < TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.OK, status);
    }

    private static async Task AssertUnavailableAsync(HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "Retry-After in seconds");
        Assert.Equal(503, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
    }
}
