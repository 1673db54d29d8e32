using System.Net;
using System.Text.RegularExpressions;
using Bazaar.Admin;
using Bazaar.Admin.Api;
using Bazaar.Admin.Auth;
using Bazaar.IntegrationTests.Order;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Bazaar.IntegrationTests.Admin;

/// <summary>
/// The admin app in process beside the order system's real auth-api, catalog-api, order-api and worker (on the shared
/// MariaDB, Redis and RabbitMQ): its HttpClients for each service reach that service's in-process server through service
/// discovery, as they reach the AppHost's processes.
/// </summary>
public sealed class AdminSystemFixture : IAsyncLifetime
{
    public OrderSystem System { get; private set; } = null!;

    public ServiceHost<AdminEntryPoint> Admin { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        System = await OrderSystem.StartAsync();
        var settings = new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning" };
        foreach (string service in AdminApi.Services)
        {
            settings[$"services:{service}:http:0"] = "http://localhost";
        }

        Admin = new ServiceHost<AdminEntryPoint>(settings, services =>
        {
            services.AddHttpClient(AdminAuthentication.AuthApi).ConfigurePrimaryHttpMessageHandler(() => System.Auth.Server.CreateHandler());
            services.AddHttpClient(AdminApi.OrderApi).ConfigurePrimaryHttpMessageHandler(() => System.Orders.Server.CreateHandler());
            services.AddHttpClient(AdminApi.CatalogApi).ConfigurePrimaryHttpMessageHandler(() => System.Catalog.Server.CreateHandler());
            services.AddHttpClient(AdminApi.Worker).ConfigurePrimaryHttpMessageHandler(() => System.Worker.Server.CreateHandler());
        });
        _ = Admin.Server;
    }

    public async Task DisposeAsync()
    {
        await Admin.DisposeAsync();
        await System.DisposeAsync();
    }

    /// <summary>A browser-like client of the admin app: keeps cookies, does not follow redirects.</summary>
    public AdminBrowser Browser() => new(Admin.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true }));
}

/// <summary>Requests the admin app as a browser would, form posts with their antiforgery token included.</summary>
public sealed partial class AdminBrowser(HttpClient client) : IDisposable
{
    public HttpClient Client { get; } = client;

    /// <summary>Posts the sign-in form (after loading it for its antiforgery token); the answer is not followed.</summary>
    public async Task<HttpResponseMessage> SignInAsync(string email, string password, string returnUrl = "/")
    {
        string path = "/signin?ReturnUrl=" + Uri.EscapeDataString(returnUrl);
        return await PostFormAsync(path, path, new Dictionary<string, string>
        {
            ["_handler"] = "signin",
            ["Input.Email"] = email,
            ["Input.Password"] = password,
        });
    }

    /// <summary>The sign-out form of the layout, posted from <paramref name="page"/>.</summary>
    public Task<HttpResponseMessage> SignOutAsync(string page = "/") => PostFormAsync(page, "/signout", []);

    public async Task<HttpResponseMessage> PostFormAsync(string formPage, string action, Dictionary<string, string> fields)
    {
        string form = await Client.GetStringAsync(formPage);
        Match token = AntiforgeryToken().Match(form);
        Assert.True(token.Success, $"{formPage} has an antiforgery token");
        fields["__RequestVerificationToken"] = WebUtility.HtmlDecode(token.Groups[1].Value);
        return await Client.PostAsync(action, new FormUrlEncodedContent(fields));
    }

    /// <summary>Where a redirect points: its path and query when inside the app (http://localhost), else the whole address.</summary>
    public static string? Target(HttpResponseMessage response) =>
        response.Headers.Location is not { } location ? null
        : !location.IsAbsoluteUri ? location.OriginalString
        : location.Authority == "localhost" ? location.PathAndQuery
        : location.AbsoluteUri;

    public void Dispose() => Client.Dispose();

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
