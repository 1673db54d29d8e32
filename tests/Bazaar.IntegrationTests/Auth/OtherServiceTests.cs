using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Bazaar.Auth.Api.Apis;
using Bazaar.Auth.Api.Tokens;
using Bazaar.ServiceDefaults.Authentication;
using Bazaar.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Bazaar.IntegrationTests.Auth;

/// <summary>
/// A service that is not auth-api: one line, <c>AddDefaultAuthentication()</c>, finds auth-api's JWKS at
/// <c>http://auth-api</c> through service discovery (<c>services:auth-api:http:0</c>) and reads the deny list in Redis.
/// </summary>
public sealed class OtherServiceTests : IAsyncLifetime
{
    private AuthApiFactory _auth = null!;
    private WebApplication _service = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _auth = await AuthApiFactory.StartAsync();
        TestServers servers = await TestServers.SharedAsync();

        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = servers.RedisConnectionString,
            ["services:auth-api:http:0"] = "http://localhost",
        });
        builder.AddServiceDefaults();
        builder.AddRedisClient("cache");
        builder.AddDefaultAuthentication();
        // The network hop to auth-api ends in its in-process test server; discovery still resolves the name first.
        builder.Services.AddHttpClient(AuthenticationConventions.JwksHttpClientName).ConfigurePrimaryHttpMessageHandler(() => _auth.Server.CreateHandler());

        _service = builder.Build();
        _service.MapGet("/admin-only", () => "admin").RequireAuthorization(AuthenticationConventions.Policies.Admin);
        _service.MapGet("/customers", () => "customer").RequireAuthorization(AuthenticationConventions.Policies.Customer);
        _service.MapGet("/services", () => "service").RequireAuthorization(AuthenticationConventions.Policies.Service);
        await _service.StartAsync();
        _client = _service.GetTestClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _service.DisposeAsync();
        await _auth.DisposeAsync();
    }

    [Fact]
    public async Task An_admin_token_issued_by_auth_api_opens_an_admin_route_of_another_service()
    {
        TokenResponse admin = await _auth.LoginAsAdminAsync();

        Assert.Equal(HttpStatusCode.OK, await StatusAsync("/admin-only", admin.AccessToken));
    }

    [Fact]
    public async Task A_customer_token_gets_403_problem_details_on_an_admin_route_and_no_token_gets_401()
    {
        (_, _, TokenResponse customer) = await _auth.RegisterAndLoginAsync("shopper");

        HttpResponseMessage forbidden = await SendAsync("/admin-only", customer.AccessToken);
        HttpResponseMessage anonymous = await SendAsync("/admin-only", null);

        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal("application/problem+json", forbidden.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync("/customers", customer.AccessToken));
    }

    [Fact]
    public async Task A_client_credentials_token_satisfies_the_service_policy_only()
    {
        using HttpClient anonymous = _auth.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/token");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(
            System.Text.Encoding.UTF8.GetBytes($"{AuthApiFactory.ServiceClientId}:{AuthApiFactory.ServiceClientSecret}")));
        TokenResponse service = (await (await anonymous.SendAsync(request)).Content.ReadFromJsonAsync<TokenResponse>())!;

        Assert.Equal(HttpStatusCode.OK, await StatusAsync("/services", service.AccessToken));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync("/admin-only", service.AccessToken));
    }

    [Fact]
    public async Task A_token_logged_out_at_auth_api_is_refused_by_another_service_moments_later()
    {
        TokenResponse admin = await _auth.LoginAsAdminAsync();
        Assert.Equal(HttpStatusCode.OK, await StatusAsync("/admin-only", admin.AccessToken));

        using HttpClient signedIn = _auth.CreateClient(admin.AccessToken);
        (await signedIn.PostAsync("/api/auth/logout", null)).EnsureSuccessStatusCode();

        // The denial reaches this service's copy of the deny list over Redis pub/sub: in the same moment as auth-api's
        // answer, but a request sent at once may overtake it by a fraction of a millisecond.
        var clock = Stopwatch.StartNew();
        while (await StatusAsync("/admin-only", admin.AccessToken) != HttpStatusCode.Unauthorized)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), "the logged-out token was still accepted a second after the logout");
            await Task.Delay(TimeSpan.FromMilliseconds(5));
        }
    }

    [Fact]
    public async Task After_a_key_rotation_another_service_accepts_the_new_key_at_its_first_token_and_still_the_old_one()
    {
        TokenResponse before = await _auth.LoginAsAdminAsync();
        Assert.Equal(HttpStatusCode.OK, await StatusAsync("/admin-only", before.AccessToken));

        using HttpClient admin = _auth.CreateClient(before.AccessToken);
        RotatedKeyResponse rotated = (await (await admin.PostAsync("/api/auth/keys/rotate", null)).Content.ReadFromJsonAsync<RotatedKeyResponse>())!;
        TokenResponse after = await _auth.LoginAsAdminAsync();
        Assert.Equal(rotated.KeyId, new JsonWebToken(after.AccessToken).Kid);

        Assert.Equal(HttpStatusCode.OK, await StatusAsync("/admin-only", after.AccessToken));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync("/admin-only", before.AccessToken));
    }

    [Fact]
    public async Task A_token_minted_by_TestTokens_is_accepted_only_where_the_test_key_is_configured()
    {
        // This service was not given Authentication:TestSigningKey; auth-api (the factory) was.
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync("/admin-only", TestTokens.Admin()));
        using HttpClient auth = _auth.CreateClient(TestTokens.Admin());
        Assert.Equal(HttpStatusCode.OK, (await auth.GetAsync("/api/auth/users")).StatusCode);
    }

    private async Task<HttpStatusCode> StatusAsync(string path, string? token) => (await SendAsync(path, token)).StatusCode;

    private Task<HttpResponseMessage> SendAsync(string path, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return _client.SendAsync(request);
    }
}
