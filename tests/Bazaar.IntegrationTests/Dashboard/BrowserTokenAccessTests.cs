using System.Net;
using Bazaar.Dashboard.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bazaar.IntegrationTests.Dashboard;

/// <summary>
/// The token gate as it runs when the dashboard is bound beyond loopback. Tests may only listen on loopback, so the
/// gate is switched on directly rather than through the bound address.
/// </summary>
public sealed class BrowserTokenAccessTests : IAsyncLifetime
{
    private const string Token = "0123456789abcdef0123456789abcdef";
    private WebApplication _app = null!;
    private Uri _address = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddProblemDetails();
        _app = builder.Build();
        new BrowserTokenAccess(Token, required: true).Use(_app);
        _app.MapGet("/api/resources", () => TypedResults.Ok(new[] { "cache" }));
        _app.MapGet("/resources", () => TypedResults.Content("<h1>Resources</h1>", "text/html"));
        await _app.StartAsync();
        _address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Without_the_token_pages_ask_for_it_and_the_api_answers_401_problem_details()
    {
        using var client = new HttpClient { BaseAddress = _address };

        using var page = await client.GetAsync("/resources");
        using var api = await client.GetAsync("/api/resources");

        Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
        Assert.Contains("token", await page.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.Equal("application/problem+json", api.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_login_link_sets_a_cookie_that_opens_every_page()
    {
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = _address };

        using var login = await client.GetAsync($"/login?t={Token}");
        using var page = await client.GetAsync("/resources");

        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    [Fact]
    public async Task A_wrong_token_opens_nothing_and_a_script_may_send_the_right_one_as_a_bearer_token()
    {
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = _address };

        using var wrong = await client.GetAsync("/login?t=guess");
        using var stillClosed = await client.GetAsync("/api/resources");
        using var bearer = new HttpRequestMessage(HttpMethod.Get, "/api/resources") { Headers = { { "Authorization", "Bearer " + Token } } };
        using var withBearer = await client.SendAsync(bearer);

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, stillClosed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, withBearer.StatusCode);
    }
}
