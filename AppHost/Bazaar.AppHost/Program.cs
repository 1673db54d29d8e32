using Bazaar.AppHost;

BazaarOptions options;
try
{
    options = BazaarOptions.Parse(args, Environment.GetEnvironmentVariable);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

IDistributedApplicationBuilder builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions
{
    Args = [.. options.AspireArgs],
    // The dashboard serves plain http on loopback (Bazaar binds nothing else).
    AllowUnsecuredTransport = true,
});
BazaarModel model = BazaarModel.Configure(builder, options);

Console.WriteLine($"Bazaar: data in {model.Data.Path}; resource states for scripts at {options.StateUrl}/api/resources. Ctrl+C stops everything.");
Console.WriteLine(options.AdminPassword is not null
    ? "Admin: admin@bazaar.local, password from BAZAAR_ADMIN_PASSWORD."
    : $"Admin: admin@bazaar.local, password in {model.AdminPasswordFile} (written by auth-api at its first start).");
Console.WriteLine($"Dashboard telemetry API key (header x-api-key): in {Path.Combine(model.Data.SecretsDirectory, "dashboard-api-key")} unless BAZAAR_DASHBOARD_API_KEY is set.");
await builder.Build().RunAsync();
return 0;
