// A web host, not a bare worker host, so the orchestrator can probe its /health like every other service.
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddMySqlDataSource("orderdb");
builder.AddRedisClient("cache");
builder.AddRabbitMQClient("messaging");

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();

/// <summary>The entry point, public so tests can host it with WebApplicationFactory&lt;Program&gt;.</summary>
public partial class Program;
