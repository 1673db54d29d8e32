using Bazaar.Admin.Auth;
using Bazaar.Admin.Components;
using Bazaar.Admin.Health;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

// The AppHost runs projects from their build output, in any environment; outside Development ASP.NET Core would look
// for published assets only and serve the compressed CSS (and blazor.web.js) empty. When published, there is no
// manifest and this does nothing.
builder.WebHost.UseStaticWebAssets();

builder.Services.AddRazorComponents().AddInteractiveServerComponents();
builder.Services.AddSingleton(TimeProvider.System);
builder.AddServiceHealthProbe();
builder.AddAdminAuthentication();

var app = builder.Build();
app.MapDefaultEndpoints();
app.UseAuthentication();
app.UseAuthorization();
// An open page holds its circuit's WebSocket, and Kestrel's stop waits for it until the shutdown timeout (the AppHost
// kills after 10 s): stopping ends circuits at once; the browser shows Blazor's reconnect notice (eng/DEPENDENCIES.md:
// a dump showed the wait).
app.Use(async (context, next) =>
{
    if (!context.Request.Path.StartsWithSegments("/_blazor"))
    {
        await next(context);
        return;
    }

    using CancellationTokenRegistration abort = app.Lifetime.ApplicationStopping.Register(context.Abort);
    await next(context);
});
app.UseAntiforgery();
app.MapStaticAssets();
app.MapAdminSignOut();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
app.Run();

/// <summary>The entry point, public so tests can host it with WebApplicationFactory&lt;Program&gt;.</summary>
public partial class Program;
