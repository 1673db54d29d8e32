using Bazaar.Admin.Api;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;

namespace Bazaar.Admin.Auth;

public static class AdminAuthenticationExtensions
{
    public const string SignInPath = "/signin";
    public const string SignOutPath = "/signout";
    public const string CookieName = "bazaar.admin";

    /// <summary>
    /// Cookie sign-in for admins: the cookie (HttpOnly, SameSite=Strict, Secure when the request is https, data-protected)
    /// carries only who signed in and a session id; the tokens stay in <see cref="AdminSessionStore"/>. Also the named
    /// HttpClient of each service in <see cref="AdminApi.Services"/>.
    /// </summary>
    public static IHostApplicationBuilder AddAdminAuthentication(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<AdminSessionStore>();
        builder.Services.AddSingleton<AdminAuthentication>();
        builder.Services.AddScoped<AdminApi>();
        builder.Services.AddScoped<OrderAdmin>();
        builder.Services.AddScoped<DeadLetterAdmin>();
        builder.Services.AddScoped<CatalogAdmin>();
        foreach (string service in AdminApi.Services)
        {
            builder.Services.AddHttpClient(service, client => client.BaseAddress = new Uri($"http://{service}"));
        }

        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(options =>
        {
            options.Cookie.Name = CookieName;
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            options.LoginPath = SignInPath;
            options.AccessDeniedPath = SignInPath;
            options.ExpireTimeSpan = AdminSessionStore.IdleLimit;
            options.SlidingExpiration = true;
            options.Events.OnValidatePrincipal = context =>
            {
                AdminSessionStore sessions = context.HttpContext.RequestServices.GetRequiredService<AdminSessionStore>();
                if (!sessions.IsActive(context.Principal?.FindFirst(AdminClaims.Session)?.Value))
                {
                    // Signed out elsewhere, refused a refresh, or this app restarted: the cookie names no session any more.
                    context.RejectPrincipal();
                    return context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
                }

                return Task.CompletedTask;
            };
        });
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(AdminClaims.AdminRole, policy => policy.RequireRole(AdminClaims.AdminRole));
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddScoped<AuthenticationStateProvider, AdminSessionRevalidation>();
        return builder;
    }

    /// <summary>POST /signout (a form with the antiforgery token): ends the session here and at auth-api.</summary>
    public static IEndpointRouteBuilder MapAdminSignOut(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost(SignOutPath, async (HttpContext context, AdminAuthentication authentication) =>
            {
                await authentication.SignOutAsync(context.User, context.RequestAborted);
                await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
                return TypedResults.LocalRedirect(SignInPath);
            })
            .WithMetadata(new RequireAntiforgeryTokenAttribute())
            .ExcludeFromDescription();
        return endpoints;
    }
}

/// <summary>An open page (circuit) notices within half a minute when its session has ended, and shows the sign-in link.</summary>
internal sealed class AdminSessionRevalidation(ILoggerFactory loggerFactory, AdminSessionStore sessions)
    : RevalidatingServerAuthenticationStateProvider(loggerFactory)
{
    protected override TimeSpan RevalidationInterval => TimeSpan.FromSeconds(30);

    protected override Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken) =>
        Task.FromResult(sessions.IsActive(authenticationState.User.FindFirst(AdminClaims.Session)?.Value));
}
