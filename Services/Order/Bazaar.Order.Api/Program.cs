// A shell for now: it joins the platform and reaches its database, cache and broker; the order issue fills it in.
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
