using Bazaar.Hosting;

namespace Bazaar.UnitTests.Hosting;

/// <summary>The environment a project receives, key by key, exactly as Aspire would give it.</summary>
public sealed class EnvironmentWiringTests
{
    private readonly IDistributedApplicationBuilder _builder =
        DistributedApplication.CreateBuilder(new DistributedApplicationOptions { DashboardUrl = null, ConsoleLogging = false });

    private readonly DistributedApplicationOptions _options = new();

    private static void Allocate(BackingServerResource server, int port, string user, string password)
    {
        server.PrimaryEndpoint.AllocatedPorts = [port];
        server.Credentials = new ServerCredentials(user, password);
    }

    [Fact]
    public void A_project_gets_connection_strings_of_what_it_references_in_Aspire_form()
    {
        IResourceBuilder<RedisResource> cache = _builder.AddRedis("cache");
        IResourceBuilder<RabbitMQServerResource> messaging = _builder.AddRabbitMQ("messaging");
        IResourceBuilder<MySqlServerResource> mysql = _builder.AddMySql("mysql");
        IResourceBuilder<MySqlDatabaseResource> catalogDb = mysql.AddDatabase("catalogdb");
        IResourceBuilder<ProjectResource> api = _builder.AddProject("catalog-api", "Catalog/Catalog.csproj")
            .WithReference(cache).WithReference(messaging).WithReference(catalogDb);
        Allocate(cache.Resource, 16379, "default", "redispw");
        Allocate(messaging.Resource, 15673, "bazaar", "rabbitpw");
        Allocate(mysql.Resource, 13306, "root", "mysqlpw");
        api.Resource.HttpEndpoint.AllocatedPorts = [5201];

        IReadOnlyDictionary<string, string> environment = ProcessEnvironment.For(api.Resource, 0, _options);

        Assert.Equal("127.0.0.1:16379,password=redispw", environment["ConnectionStrings__cache"]);
        Assert.Equal("amqp://bazaar:rabbitpw@127.0.0.1:15673", environment["ConnectionStrings__messaging"]);
        Assert.Equal("Server=127.0.0.1;Port=13306;User ID=root;Password=mysqlpw;Database=catalogdb;SslMode=None", environment["ConnectionStrings__catalogdb"]);
        Assert.False(environment.ContainsKey("ConnectionStrings__mysql"));
    }

    [Fact]
    public void A_project_listens_on_its_own_loopback_port_and_exports_telemetry_under_its_name()
    {
        IResourceBuilder<ProjectResource> api = _builder.AddProject("order-api", "Order/Order.csproj");
        api.Resource.HttpEndpoint.AllocatedPorts = [5301];

        IReadOnlyDictionary<string, string> environment = ProcessEnvironment.For(api.Resource, 0, _options);

        Assert.Equal("http://127.0.0.1:5301", environment["ASPNETCORE_URLS"]);
        Assert.Equal("http://127.0.0.1:18889", environment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        Assert.Equal("http/protobuf", environment["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        Assert.Equal("order-api", environment["OTEL_SERVICE_NAME"]);
        Assert.Equal("service.instance.id=order-api", environment["OTEL_RESOURCE_ATTRIBUTES"]);
    }

    [Fact]
    public void Every_consumer_sees_every_replica_of_a_referenced_service()
    {
        IResourceBuilder<ProjectResource> catalog = _builder.AddProject("catalog-api", "Catalog/Catalog.csproj").WithReplicas(2);
        IResourceBuilder<ProjectResource> order = _builder.AddProject("order-api", "Order/Order.csproj").WithReference(catalog);
        catalog.Resource.HttpEndpoint.AllocatedPorts = [5201, 5202];
        order.Resource.HttpEndpoint.AllocatedPorts = [5301];

        IReadOnlyDictionary<string, string> environment = ProcessEnvironment.For(order.Resource, 0, _options);

        Assert.Equal("http://127.0.0.1:5201", environment["services__catalog-api__http__0"]);
        Assert.Equal("http://127.0.0.1:5202", environment["services__catalog-api__http__1"]);
        Assert.DoesNotContain(environment.Keys, k => k.StartsWith("services__catalog-api__http__2", StringComparison.Ordinal));
    }

    [Fact]
    public void Each_replica_listens_on_its_own_port_and_names_itself_as_the_instance()
    {
        IResourceBuilder<ProjectResource> catalog = _builder.AddProject("catalog-api", "Catalog/Catalog.csproj").WithReplicas(2);
        catalog.Resource.HttpEndpoint.AllocatedPorts = [5201, 5202];

        IReadOnlyDictionary<string, string> second = ProcessEnvironment.For(catalog.Resource, 1, _options);

        Assert.Equal("http://127.0.0.1:5202", second["ASPNETCORE_URLS"]);
        Assert.Equal("catalog-api", second["OTEL_SERVICE_NAME"]);
        Assert.Equal("service.instance.id=catalog-api-1", second["OTEL_RESOURCE_ATTRIBUTES"]);
    }

    [Fact]
    public void WithEnvironment_adds_its_variable_and_the_OTLP_endpoint_follows_the_options()
    {
        IResourceBuilder<ProjectResource> auth = _builder.AddProject("auth-api", "Auth/Auth.csproj").WithEnvironment("Auth__AdminPassword", "s3cret");
        auth.Resource.HttpEndpoint.AllocatedPorts = [5101];
        var options = new DistributedApplicationOptions { OtlpEndpointUrl = "http://127.0.0.1:4318" };

        IReadOnlyDictionary<string, string> environment = ProcessEnvironment.For(auth.Resource, 0, options);

        Assert.Equal("s3cret", environment["Auth__AdminPassword"]);
        Assert.Equal("http://127.0.0.1:4318", environment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
    }

    [Fact]
    public void A_reference_to_a_resource_outside_the_application_is_refused_at_build()
    {
        IDistributedApplicationBuilder other = DistributedApplication.CreateBuilder(new DistributedApplicationOptions { DashboardUrl = null });
        IResourceBuilder<RedisResource> foreignCache = other.AddRedis("cache");
        _builder.AddProject("api", "Api/Api.csproj").WithReference(foreignCache);

        DistributedApplicationException error = Assert.Throws<DistributedApplicationException>(() => _builder.Build());
        Assert.Contains("'cache'", error.Message, StringComparison.Ordinal);
    }
}
