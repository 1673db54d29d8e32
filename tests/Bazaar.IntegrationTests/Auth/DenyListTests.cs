using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Bazaar.ServiceDefaults.Authentication;
using Bazaar.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Bazaar.IntegrationTests.Auth;

/// <summary>
/// The deny list on a Redis of the test's own, which the test stops and starts: a reader answers from its copy once it
/// is loaded, a denial made elsewhere reaches that copy, the copy is loaded again after Redis comes back, a valid token
/// waits out a short outage instead of being refused, and is still refused (fail closed) when Redis stays away.
/// </summary>
public sealed class DenyListTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private TestServers _redis = null!;

    // Two processes' connections: auth-api's, which denies, and another service's, which reads.
    private ConnectionMultiplexer _writerRedis = null!;
    private ConnectionMultiplexer _readerRedis = null!;

    public async Task InitializeAsync()
    {
        _redis = await TestServers.StartDedicatedAsync(redis: true, rabbitMq: false, mySql: false);
        _writerRedis = await ConnectionMultiplexer.ConnectAsync(_redis.RedisConnectionString);
        _readerRedis = await ConnectionMultiplexer.ConnectAsync(_redis.RedisConnectionString);
    }

    public async Task DisposeAsync()
    {
        _readerRedis.Dispose();
        _writerRedis.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task A_reader_loads_the_denials_made_before_it_and_receives_later_ones_then_answers_without_asking_Redis()
    {
        var writer = new TokenDenyList(_writerRedis, TimeProvider.System);
        var reader = new TokenDenyList(_readerRedis, TimeProvider.System);
        string before = Guid.NewGuid().ToString("N");
        string after = Guid.NewGuid().ToString("N");
        await writer.DenyAsync(before, DateTimeOffset.UtcNow.AddMinutes(5), TimeSpan.Zero);

        Assert.True(await reader.IsDeniedAsync(before, TimeSpan.Zero, CancellationToken.None), "asked Redis before the copy was loaded");
        await UntilMirroredAsync(reader);
        await writer.DenyAsync(after, DateTimeOffset.UtcNow.AddMinutes(5), TimeSpan.Zero);
        await UntilAsync(() => reader.IsDeniedAsync(after, TimeSpan.Zero, CancellationToken.None), "the later denial reached the reader");

        Task<bool> loaded = reader.IsDeniedAsync(before, TimeSpan.Zero, CancellationToken.None);
        Task<bool> valid = reader.IsDeniedAsync(Guid.NewGuid().ToString("N"), TimeSpan.Zero, CancellationToken.None);
        Assert.True(loaded.IsCompletedSuccessfully && valid.IsCompletedSuccessfully, "answered from memory, without a round trip");
        Assert.True(await loaded);
        Assert.False(await valid);
    }

    [Fact]
    public async Task After_Redis_restarts_the_reader_stops_answering_from_its_copy_until_it_is_loaded_again()
    {
        var writer = new TokenDenyList(_writerRedis, TimeProvider.System);
        var reader = new TokenDenyList(_readerRedis, TimeProvider.System);
        await UntilMirroredAsync(reader);

        await _redis.StopServerAsync(TestServers.Redis);
        await UntilAsync(() => Task.FromResult(!reader.IsMirrored), "the reader noticed that Redis went away");
        await _redis.StartServerAsync(TestServers.Redis);
        string meanwhile = Guid.NewGuid().ToString("N");
        await UntilAsync(async () =>
        {
            try
            {
                await writer.DenyAsync(meanwhile, DateTimeOffset.UtcNow.AddMinutes(5), TimeSpan.Zero);
                return true;
            }
            catch (RedisException)
            {
                return false;
            }
        }, "the writer denied a token after the restart");

        await UntilMirroredAsync(reader);
        Assert.True(await reader.IsDeniedAsync(meanwhile, TimeSpan.Zero, CancellationToken.None));
    }

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

        // The copy answers until the service notices that Redis went away (no denial can be made meanwhile).
        TokenDenyList denyList = service.Services.GetRequiredService<TokenDenyList>();
        await UntilMirroredAsync(denyList);
        await _redis.StopServerAsync(TestServers.Redis);
        await UntilAsync(() => Task.FromResult(!denyList.IsMirrored), "the service noticed that Redis went away");
        var clock = Stopwatch.StartNew();
        HttpStatusCode status = await StatusAsync(client, token);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.True(clock.Elapsed >= wait, $"refused after {clock.Elapsed.TotalMilliseconds:F0} ms, before the {wait.TotalMilliseconds} ms wait");
    }

    private static async Task UntilMirroredAsync(TokenDenyList denyList) =>
        await UntilAsync(async () =>
        {
            // A lookup while the copy is not current starts loading it.
            await denyList.IsDeniedAsync(Guid.NewGuid().ToString("N"), Deadline, CancellationToken.None);
            return denyList.IsMirrored;
        }, "the deny list is answered from memory");

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < Deadline, $"not within {Deadline.TotalSeconds} s: {what}");
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
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
