using Bazaar.Admin.Components;
using Bazaar.Admin.Health;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

builder.Services.AddRazorComponents();
builder.AddServiceHealthProbe();

var app = builder.Build();
app.MapDefaultEndpoints();
app.UseAntiforgery();
app.MapStaticAssets();
app.MapRazorComponents<App>();
app.Run();

/// <summary>The entry point, public so tests can host it with WebApplicationFactory&lt;Program&gt;.</summary>
public partial class Program;
