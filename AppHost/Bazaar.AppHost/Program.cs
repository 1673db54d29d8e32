using Bazaar.AppHost;
using Bazaar.Dashboard;
using Bazaar.Hosting;

IDistributedApplicationBuilder builder;
try
{
    builder = DistributedApplication.CreateBuilder(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

BazaarModel.Configure(builder);
builder.AddDashboard();

await using DistributedApplication app = builder.Build();
try
{
    await app.StartAsync();
}
catch (DistributedApplicationException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 1;
}

Console.WriteLine($"Bazaar is starting. Dashboard: {app.DashboardUrl ?? "(disabled)"}   Data: {app.DataDirectory}   Ctrl+C stops everything.");
Console.WriteLine(builder.Configuration["BAZAAR_ADMIN_PASSWORD"] is { Length: > 0 }
    ? "Admin: admin@bazaar.local, password from BAZAAR_ADMIN_PASSWORD."
    : $"Admin: admin@bazaar.local, password in {BazaarModel.AdminPasswordFile(builder)} (written by auth-api at its first start).");
await app.RunAsync();
return 0;
