using Bazaar.Auth.Api;
using Bazaar.Auth.Api.Apis;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAuthApi();

WebApplication app = builder.Build();
app.UseRateLimiter();
app.MapDefaultEndpoints();
app.MapAuthApi();
app.MapAdminApi();
app.Run();

public partial class Program;
