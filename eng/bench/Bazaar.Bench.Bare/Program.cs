// The ceiling every benchmark is compared with: the least an ASP.NET Core JSON endpoint can do.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
app.MapGet("/json", () => TypedResults.Ok(new { id = 1, name = "Bare", price = 9.99m }));
app.Run();
