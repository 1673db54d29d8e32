using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Bazaar.Dashboard.Access;

/// <summary>
/// Like Aspire's login link: on loopback the dashboard is open, as only this machine's users reach it; bound to
/// any other address, every request needs the token printed at start, given once as /login?t=TOKEN (which sets
/// a cookie) or as "Authorization: Bearer TOKEN" by scripts. It runs before routing, so the Blazor circuit's hub
/// (/_blazor: negotiate, WebSocket, long polling) and its script are guarded like the pages.
/// </summary>
public sealed class BrowserTokenAccess
{
    public const string CookieName = "bazaar-dashboard";

    private readonly byte[] _token;

    public BrowserTokenAccess(string token, bool required)
    {
        Token = token;
        Required = required;
        _token = Encoding.UTF8.GetBytes(token);
    }

    public string Token { get; }

    public bool Required { get; }

    /// <summary>Whether a listening address can be reached from other machines (anything but loopback).</summary>
    public static bool IsRemoteAddress(string url)
    {
        if (!Uri.TryCreate(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri)) return true;
        if (uri.IsLoopback) return false;
        return !(IPAddress.TryParse(uri.Host, out var address) && IPAddress.IsLoopback(address));
    }

    public static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public void Use(WebApplication app)
    {
        if (!Required) return;
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.Equals("/login", StringComparison.OrdinalIgnoreCase))
            {
                if (Matches(context.Request.Query["t"]))
                {
                    context.Response.Cookies.Append(CookieName, Token, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, IsEssential = true });
                    context.Response.Redirect("/");
                    return;
                }
                await LoginPageAsync(context);
                return;
            }
            var bearer = context.Request.Headers.Authorization.ToString();
            if (Matches(context.Request.Cookies[CookieName]) || (bearer.StartsWith("Bearer ", StringComparison.Ordinal) && Matches(bearer["Bearer ".Length..])))
            {
                await next(context);
                return;
            }
            // Scripts, and the Blazor circuit (its negotiate and WebSocket requests carry the cookie like any page
            // request): they get a 401 they can read, not the login page.
            if (context.Request.Path.StartsWithSegments("/api") || context.Request.Path.StartsWithSegments("/_blazor") || context.Request.Path.StartsWithSegments("/_framework"))
            {
                await Results.Problem(title: "Dashboard token required", detail: "Open the login link printed by the AppHost, or send Authorization: Bearer TOKEN.", statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(context);
                return;
            }
            await LoginPageAsync(context);
        });
    }

    private bool Matches(string? candidate) =>
        candidate is { Length: > 0 } && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), _token);

    private static async Task LoginPageAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.WriteAsync("""
            <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Bazaar dashboard login</title></head>
            <body style="font-family:system-ui;margin:3em"><h1>Bazaar dashboard</h1>
            <p>This dashboard listens beyond loopback, so it asks for the token the AppHost printed at start.</p>
            <form method="get" action="/login"><input name="t" size="40" autofocus placeholder="token"> <button>Log in</button></form></body></html>
            """);
    }
}
