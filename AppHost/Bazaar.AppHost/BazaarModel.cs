using Bazaar.Hosting;

namespace Bazaar.AppHost;

/// <summary>
/// The Bazaar application: its backing servers, databases and services, each referencing what it uses and waiting for
/// it; every server and service is started again if it crashes.
/// </summary>
public sealed class BazaarModel
{
    /// <summary>Preferred ports (a free one is taken, and remembered, when one is busy).</summary>
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

    /// <summary>The queues whose dead letters the worker's dashboard commands re-queue (as the admin UI lists them).</summary>
    private static readonly string[] DeadLetterQueues = ["worker", "order-api"];

    /// <summary>
    /// Orders placed in 1-2 s from which placement counts as a promotion-day peak: the saga takes turns and orderdb's outbox
    /// relay holds its events back until it is over (<c>Saga:Yield</c> and <c>Orders:RelayHold</c>).
    /// </summary>
    private const string PeakPlacements = "500";

    private BazaarModel(BazaarDataDirectory data) => Data = data;

    public BazaarDataDirectory Data { get; }

    /// <summary>Where auth-api writes the generated admin password: inside the data directory.</summary>
    public string AdminPasswordFile => Path.Combine(Data.SecretsDirectory, "auth-admin-password");

    public static BazaarModel Configure(IDistributedApplicationBuilder builder, BazaarOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);

        string dataDirectory = options.ResolveDataDirectory(builder.AppHostDirectory);
        if (options.Fresh && Directory.Exists(dataDirectory))
        {
            Directory.Delete(dataDirectory, recursive: true);
        }

        var data = new BazaarDataDirectory(dataDirectory, options.FreePorts);
        var model = new BazaarModel(data);
        ConfigureDashboard(builder, options, data);
        builder.AddResourceStateServer(options.StateUrl);

        bool containers = options.Runtime == ServerRuntime.Container;
        IResourceBuilder<IResourceWithConnectionString> cache = containers
            ? builder.AddRedis("cache", data.Port("cache", Ports.Cache), Password(builder, data, "cache"))
                .WithDataBindMount(data.ResourceDirectory("cache"))
            : builder.AddRedisServer("cache", data, Ports.Cache);
        IResourceBuilder<IResourceWithConnectionString> messaging = containers
            ? builder.AddRabbitMQ("messaging", builder.AddParameter("messaging-user", "bazaar"), Password(builder, data, "messaging"), data.Port("messaging", Ports.Messaging))
                .WithDataBindMount(data.ResourceDirectory("messaging"))
            : builder.AddRabbitMQServer("messaging", data, Ports.Messaging);
        IResourceBuilder<MySqlDatabaseResource> catalogDb, orderDb, authDb;
        if (containers)
        {
            IResourceBuilder<MySqlContainerResource> mysql = builder.AddMySqlContainer("mysql", data, Ports.MySql).WithRestartOnCrash();
            (catalogDb, orderDb, authDb) = (mysql.AddDatabase("catalogdb"), mysql.AddDatabase("orderdb"), mysql.AddDatabase("authdb"));
        }
        else
        {
            IResourceBuilder<MariaDbServerResource> mysql = builder.AddMariaDb("mysql", data, Ports.MySql).WithRestartOnCrash();
            (catalogDb, orderDb, authDb) = (mysql.AddDatabase("catalogdb"), mysql.AddDatabase("orderdb"), mysql.AddDatabase("authdb"));
        }

        cache.WithRestartOnCrash();
        messaging.WithRestartOnCrash();

        // Shared by auth-api and the worker: the worker's client-credentials secret; and the worker's callback signing key.
        IResourceBuilder<ParameterResource> workerClientSecret = builder.AddParameter("worker-client-secret", data.Secret("worker-client-secret"), secret: true);
        IResourceBuilder<ParameterResource> callbackSigningSecret = builder.AddParameter("callback-signing-secret", data.Secret("callback-signing-secret"), secret: true);

        IResourceBuilder<ProjectResource> authApi = builder.AddProject<Projects.Bazaar_Auth_Api>("auth-api", launchProfileName: null)
            .WithHttpEndpoint(data.Port("auth-api", Ports.AuthApi))
            .WithEnvironment("Auth__Clients__worker__Secret", workerClientSecret)
            .WithEnvironment("Auth__SecretsDirectory", data.SecretsDirectory)
            .WithReference(authDb).WaitFor(authDb)
            .WithReference(cache).WaitFor(cache)
            .WithHttpHealthCheck("/health")
            .WithRestartOnCrash();
        if (options.AdminPassword is not null)
        {
            authApi.WithEnvironment("Auth__AdminPassword", builder.AddParameter("admin-password", options.AdminPassword, secret: true));
        }

        IResourceBuilder<ProjectResource> catalogApi = builder.AddProject<Projects.Bazaar_Catalog_Api>("catalog-api", launchProfileName: null)
            .WithHttpEndpoint(data.Port("catalog-api", Ports.CatalogApi))
            .WithReplicas(CatalogReplicas)
            .WithReference(catalogDb).WaitFor(catalogDb)
            .WithReference(cache).WaitFor(cache)
            .WithReference(messaging).WaitFor(messaging)
            .WithReference(authApi).WaitFor(authApi)
            .WithHttpHealthCheck("/health")
            .WithRestartOnCrash();

        IResourceBuilder<ProjectResource> orderApi = builder.AddProject<Projects.Bazaar_Order_Api>("order-api", launchProfileName: null)
            .WithHttpEndpoint(data.Port("order-api", Ports.OrderApi))
            .WithReference(orderDb).WaitFor(orderDb)
            .WithReference(cache).WaitFor(cache)
            .WithReference(messaging).WaitFor(messaging)
            .WithReference(catalogApi).WaitFor(catalogApi)
            .WithReference(authApi).WaitFor(authApi)
            .WithEnvironment("Orders__RelayHold__PeakPlacements", PeakPlacements)
            .WithHttpHealthCheck("/health")
            .WithRestartOnCrash();

        // The saga yields to placement during a promotion-day peak and catches up after it; orderdb's outbox relay, whichever
        // process holds its lease, holds its events back meanwhile (Services/Worker/README.md, "Yielding to a placement peak").
        IResourceBuilder<ProjectResource> worker = builder.AddProject<Projects.Bazaar_Worker>("worker", launchProfileName: null)
            .WithHttpEndpoint(data.Port("worker", Ports.Worker))
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
            .WithHttpHealthCheck("/health")
            .WithRestartOnCrash();
        string AdminPassword() => options.AdminPassword ?? File.ReadAllText(model.AdminPasswordFile).Trim();
        foreach (string queue in DeadLetterQueues)
        {
            worker.WithRequeueDeadLettersCommand(queue, authApi, AdminPassword);
        }

        builder.AddProject<Projects.Bazaar_Admin>("admin", launchProfileName: null)
            .WithHttpEndpoint(data.Port("admin", Ports.Admin))
            .WithReference(catalogApi).WaitFor(catalogApi)
            .WithReference(orderApi).WaitFor(orderApi)
            .WithReference(authApi).WaitFor(authApi)
            .WithReference(worker)
            .WithHttpHealthCheck("/health")
            .WithRestartOnCrash();

        return model;
    }

    /// <summary>
    /// The Aspire dashboard on plain http at a fixed loopback address, OTLP beside it, and its telemetry API behind a key
    /// that scripts and tests read from the data directory (or BAZAAR_DASHBOARD_API_KEY).
    /// </summary>
    private static void ConfigureDashboard(IDistributedApplicationBuilder builder, BazaarOptions options, BazaarDataDirectory data)
    {
        builder.Configuration["ASPNETCORE_URLS"] = options.DashboardUrl;
        builder.Configuration["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = options.OtlpUrl;
        builder.Configuration["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        builder.Configuration["AppHost:DashboardApiKey"] = options.ResolveDashboardApiKey(data.SecretsDirectory);
    }

    private static IResourceBuilder<ParameterResource> Password(IDistributedApplicationBuilder builder, BazaarDataDirectory data, string server) =>
        builder.AddParameter($"{server}-password", data.Secret($"{server}-password"), secret: true);
}
