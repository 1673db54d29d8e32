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
app.UseAntiforgery();
app.MapStaticAssets();
app.MapAdminSignOut();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
app.Run();

/// <summary>The entry point, public so tests can host it with WebApplicationFactory&lt;Program&gt;.</summary>
public partial class Program;
