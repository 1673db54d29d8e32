using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Bazaar.Dashboard.Access;
using Bazaar.Dashboard.Api;
using Bazaar.Dashboard.Components;
using Bazaar.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bazaar.IntegrationTests.Dashboard;

/// <summary>
/// The token gate as it runs when the dashboard is bound beyond loopback. Tests may only listen on loopback, so the
/// gate is switched on directly rather than through the bound address. The app maps the dashboard's Blazor circuit
/// (interactive server) and its script as the AppHost does.
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
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ResourceNotificationService>();
        builder.Services.AddSingleton<ResourceLoggerService>();
        _app = builder.Build();
        new BrowserTokenAccess(Token, required: true).Use(_app);
        _app.UseAntiforgery();
        _app.MapGet("/api/resources", () => TypedResults.Ok(new[] { "cache" }));
        _app.MapGet("/a-page", () => TypedResults.Content("<h1>A page</h1>", "text/html"));
        _app.MapDashboardEndpoints();
        _app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        await _app.StartAsync();
        _address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Without_the_token_pages_ask_for_it_and_the_api_answers_401_problem_details()
    {
        using var client = new HttpClient { BaseAddress = _address };

        using var page = await client.GetAsync("/a-page");
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
        using var page = await client.GetAsync("/a-page");

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

    [Fact]
    public async Task The_blazor_circuit_and_its_script_need_the_token_too()
    {
        using var client = new HttpClient { BaseAddress = _address };
        using var ws = new ClientWebSocket { Options = { CollectHttpResponseDetails = true } };

        using var negotiate = await client.PostAsync("/_blazor/negotiate?negotiateVersion=1", null);
        using var script = await client.GetAsync("/_framework/blazor.web.js");
        await Assert.ThrowsAsync<WebSocketException>(() => ws.ConnectAsync(WebSocketUri("/_blazor?id=anything"), CancellationToken.None));

        Assert.Equal(HttpStatusCode.Unauthorized, negotiate.StatusCode);
        Assert.Equal("application/problem+json", negotiate.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, script.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, ws.HttpStatusCode);
    }

    [Fact]
    public async Task With_the_cookie_the_circuit_negotiates_and_its_websocket_opens()
    {
        var cookies = new CookieContainer();
        using var handler = new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = _address };
        using var login = await client.GetAsync($"/login?t={Token}");

        using var negotiate = await client.PostAsync("/_blazor/negotiate?negotiateVersion=1", null);
        using var body = JsonDocument.Parse(await negotiate.Content.ReadAsStringAsync());
        var connectionToken = body.RootElement.GetProperty("connectionToken").GetString();
        using var ws = new ClientWebSocket { Options = { Cookies = cookies } };
        await ws.ConnectAsync(WebSocketUri($"/_blazor?id={connectionToken}"), CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, negotiate.StatusCode);
        Assert.Equal(WebSocketState.Open, ws.State);
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
    }

    [Fact]
    public async Task Blazors_script_is_served_from_the_dashboard_assembly_and_revalidated_by_etag()
    {
        using var client = new HttpClient { BaseAddress = _address };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);

        using var script = await client.GetAsync("/_framework/blazor.web.js");
        var text = await script.Content.ReadAsStringAsync();
        using var again = new HttpRequestMessage(HttpMethod.Get, "/_framework/blazor.web.js") { Headers = { IfNoneMatch = { script.Headers.ETag! } } };
        using var notModified = await client.SendAsync(again);

        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.True(text.Length > 100_000, $"blazor.web.js is {text.Length} characters");
        Assert.Contains("_blazor", text);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    private Uri WebSocketUri(string pathAndQuery) => new($"ws://{_address.Authority}{pathAndQuery}");
}
