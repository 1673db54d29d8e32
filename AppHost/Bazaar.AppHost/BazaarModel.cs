using Bazaar.Hosting;

namespace Bazaar.AppHost;

/// <summary>
/// The Bazaar application: its backing servers, databases and services, each referencing what it uses and waiting
/// for it. Public so the end-to-end tests start exactly this model.
/// </summary>
public static class BazaarModel
{
    /// <summary>Preferred ports (a free one is taken, and remembered, when one is busy); replicas count up from these.</summary>
    public static class Ports
    {
        public const int Cache = 16379;
        public const int Messaging = 15673;
        public const int MySql = 13306;
        public const int AuthApi = 5101;
        public const int CatalogApi = 5201;
        public const int OrderApi = 5301;
        public const int Worker = 5401;
        public const int Admin = 5501;
    }

    public const int CatalogReplicas = 2;

    /// <summary>
    /// Orders placed in 1-2 s from which placement counts as a promotion-day peak: the saga takes turns and orderdb's outbox
    /// relay holds its events back until it is over (<c>Saga:Yield</c> and <c>Orders:RelayHold</c>).
    /// </summary>
    private const string PeakPlacements = "500";

    public static void Configure(IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        IResourceBuilder<RedisResource> cache = builder.AddRedis("cache", Ports.Cache);
        IResourceBuilder<RabbitMQServerResource> messaging = builder.AddRabbitMQ("messaging", Ports.Messaging);
        IResourceBuilder<MySqlServerResource> mysql = builder.AddMySql("mysql", Ports.MySql);
        IResourceBuilder<MySqlDatabaseResource> catalogDb = mysql.AddDatabase("catalogdb");
        IResourceBuilder<MySqlDatabaseResource> orderDb = mysql.AddDatabase("orderdb");
        IResourceBuilder<MySqlDatabaseResource> authDb = mysql.AddDatabase("authdb");

        // Shared by auth-api and the worker: the worker's client-credentials secret; and the worker's callback signing key.
        GeneratedSecret workerClientSecret = builder.AddSecret("worker-client-secret");
        GeneratedSecret callbackSigningSecret = builder.AddSecret("callback-signing-secret");

        IResourceBuilder<ProjectResource> authApi = builder.AddProject("auth-api", "Services/Auth/Bazaar.Auth.Api/Bazaar.Auth.Api.csproj")
            .WithHttpEndpoint(Ports.AuthApi)
            .WithEnvironment("Auth__Clients__worker__Secret", workerClientSecret)
            .WithEnvironment("Auth__SecretsDirectory", SecretsDirectory(builder))
            .WithReference(authDb).WaitFor(authDb)
            .WithReference(cache).WaitFor(cache)
            .WithHttpHealthCheck("/health");
        if (builder.Configuration["BAZAAR_ADMIN_PASSWORD"] is { Length: > 0 } adminPassword)
        {
            authApi.WithEnvironment("Auth__AdminPassword", adminPassword);
        }

        IResourceBuilder<ProjectResource> catalogApi = builder.AddProject("catalog-api", "Services/Catalog/Bazaar.Catalog.Api/Bazaar.Catalog.Api.csproj")
            .WithHttpEndpoint(Ports.CatalogApi)
            .WithReplicas(CatalogReplicas)
            .WithReference(catalogDb).WaitFor(catalogDb)
            .WithReference(cache).WaitFor(cache)
            .WithReference(messaging).WaitFor(messaging)
            .WithReference(authApi).WaitFor(authApi)
            .WithHttpHealthCheck("/health");

        IResourceBuilder<ProjectResource> orderApi = builder.AddProject("order-api", "Services/Order/Bazaar.Order.Api/Bazaar.Order.Api.csproj")
            .WithHttpEndpoint(Ports.OrderApi)
            .WithReference(orderDb).WaitFor(orderDb)
            .WithReference(cache).WaitFor(cache)
            .WithReference(messaging).WaitFor(messaging)
            .WithReference(catalogApi).WaitFor(catalogApi)
            .WithReference(authApi).WaitFor(authApi)
            .WithEnvironment("Orders__RelayHold__PeakPlacements", PeakPlacements)
            .WithHttpHealthCheck("/health");

        // The saga yields to placement during a promotion-day peak (500 orders in 1-2 s: more than it can follow anyway) and
        // catches up after it; orderdb's outbox relay, whichever process holds its lease, holds its events back meanwhile
        // (Services/Worker/README.md, "Yielding to a placement peak").
        IResourceBuilder<ProjectResource> worker = builder.AddProject("worker", "Services/Worker/Bazaar.Worker/Bazaar.Worker.csproj")
            .WithHttpEndpoint(Ports.Worker)
            .WithEnvironment("Saga__Yield__PeakPlacements", PeakPlacements)
            .WithEnvironment("Orders__RelayHold__PeakPlacements", PeakPlacements)
            .WithEnvironment("ServiceAuth__ClientId", "worker")
            .WithEnvironment("ServiceAuth__ClientSecret", workerClientSecret)
            .WithEnvironment("Callbacks__SigningSecret", callbackSigningSecret)
            .WithReference(orderDb).WaitFor(orderDb)
            .WithReference(messaging).WaitFor(messaging)
            .WithReference(cache).WaitFor(cache)
            .WithReference(catalogApi).WaitFor(catalogApi)
            .WithReference(authApi).WaitFor(authApi)
            .WithHttpHealthCheck("/health");

        builder.AddProject("admin", "Web/Bazaar.Admin/Bazaar.Admin.csproj")
            .WithHttpEndpoint(Ports.Admin)
            .WithReference(catalogApi).WaitFor(catalogApi)
            .WithReference(orderApi).WaitFor(orderApi)
            .WithReference(authApi).WaitFor(authApi)
            .WithReference(worker)
            .WithHttpHealthCheck("/health");
    }

    /// <summary>Where auth-api writes the generated admin password (<see cref="AdminPasswordFile"/>): inside the data directory.</summary>
    public static string SecretsDirectory(IDistributedApplicationBuilder builder) =>
        Path.Combine(builder.Options.ResolveDataDirectory(), "secrets");

    public static string AdminPasswordFile(IDistributedApplicationBuilder builder) =>
        Path.Combine(SecretsDirectory(builder), "auth-admin-password");
}
