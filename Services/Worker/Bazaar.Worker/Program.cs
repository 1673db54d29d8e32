using Bazaar.Worker;

// A web host, not a bare worker host, so the orchestrator can probe its /health like every other service,
// and so the dead-letter admin endpoints have a home.
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddWorker();

var app = builder.Build();
app.MapDefaultEndpoints();
app.UseAuthentication();
app.UseAuthorization();
app.MapWorker();
app.Run();
