using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Bazaar.AppHost;
using Bazaar.Hosting.Lifecycle;

namespace Bazaar.UnitTests.AppHost;

/// <summary>The AppHost's model as built (nothing is started): the same names and wiring with either server runtime.</summary>
public sealed class BazaarModelTests : IDisposable
{
    private static readonly string[] Projects = ["auth-api", "catalog-api", "order-api", "worker", "admin"];
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "bazaar-model-" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public void The_process_runtime_runs_each_server_as_a_local_process_with_its_databases_and_an_install_step()
    {
        IDistributedApplicationBuilder builder = Build(ServerRuntime.Process);

        Assert.IsType<RedisServerResource>(Resource(builder, "cache"));
        Assert.IsType<RabbitMQBrokerResource>(Resource(builder, "messaging"));
        var mysql = Assert.IsType<MariaDbServerResource>(Resource(builder, "mysql"));
        Assert.Equal("mariadbd", mysql.Command);
        Assert.Contains("--bind-address=127.0.0.1", ArgsOf(mysql));
        Assert.True(mysql.TryGetAnnotationsOfType(out IEnumerable<WaitAnnotation>? waits)
            && waits.Any(w => w.Resource.Name == "mysql-install" && w.WaitType == WaitType.WaitForCompletion));
        Assert.Equal(["authdb", "catalogdb", "orderdb"], mysql.Databases.Select(d => d.DatabaseName).Order(StringComparer.Ordinal));
        Assert.All(mysql.Databases, d => Assert.Same(mysql, d.Parent));
        Assert.All(new[] { "cache", "messaging", "mysql" }, name =>
            Assert.All(Resource(builder, name).Annotations.OfType<EndpointAnnotation>(), e => Assert.False(e.IsProxied)));
    }

    [Fact]
    public void The_container_runtime_takes_the_same_names_from_Aspire_s_Redis_and_RabbitMQ_integrations_and_a_MySQL_8_container()
    {
        IDistributedApplicationBuilder builder = Build(ServerRuntime.Container);

        Assert.IsType<RedisResource>(Resource(builder, "cache"));
        Assert.IsType<RabbitMQServerResource>(Resource(builder, "messaging"));
        var mysql = Assert.IsType<MySqlContainerResource>(Resource(builder, "mysql"));
        Assert.True(mysql.TryGetLastAnnotation(out ContainerImageAnnotation? image));
        Assert.Equal(("library/mysql", "8"), (image.Image, image.Tag));
        Assert.Equal(["authdb", "catalogdb", "orderdb"], mysql.Databases.Select(d => d.DatabaseName).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(builder.Resources, r => r.Name == "mysql-install");
    }

    [Theory]
    [InlineData(ServerRuntime.Process)]
    [InlineData(ServerRuntime.Container)]
    public void Every_service_references_and_waits_for_what_it_uses_and_every_server_and_service_restarts_after_a_crash(ServerRuntime runtime)
    {
        IDistributedApplicationBuilder builder = Build(runtime);

        Assert.Equal(BazaarModel.CatalogReplicas, Resource(builder, "catalog-api").GetReplicaCount());
        // Waiting for a database waits for its server too.
        Assert.Equal(["authdb", "cache", "mysql"], WaitsOf(builder, "auth-api"));
        Assert.Equal(["auth-api", "cache", "catalogdb", "messaging", "mysql"], WaitsOf(builder, "catalog-api"));
        Assert.Equal(["auth-api", "cache", "catalog-api", "messaging", "mysql", "orderdb"], WaitsOf(builder, "order-api"));
        Assert.Equal(["auth-api", "cache", "catalog-api", "messaging", "mysql", "orderdb"], WaitsOf(builder, "worker"));
        Assert.Equal(["auth-api", "catalog-api", "order-api"], WaitsOf(builder, "admin"));
        Assert.All(Projects.Concat(["cache", "messaging", "mysql"]), name =>
            Assert.True(Resource(builder, name).HasAnnotationOfType<RestartOnCrashAnnotation>(), $"{name} restarts after a crash"));
    }

    [Fact]
    public void Generated_secrets_and_ports_are_kept_in_the_data_directory_for_the_next_start()
    {
        IDistributedApplicationBuilder first = Build(ServerRuntime.Process, freePorts: false);
        string password = ParameterValue(first, "cache-password");
        int port = Resource(first, "cache").Annotations.OfType<EndpointAnnotation>().Single().Port!.Value;

        IDistributedApplicationBuilder second = Build(ServerRuntime.Process, freePorts: false);

        Assert.Equal(password, ParameterValue(second, "cache-password"));
        Assert.Equal(port, Resource(second, "cache").Annotations.OfType<EndpointAnnotation>().Single().Port);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dataDirectory, "secrets.json")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dataDirectory, "secrets", "dashboard-api-key")));
        }
        Assert.DoesNotContain(password, string.Join(' ', ArgsOf((ExecutableResource)Resource(second, "cache"))));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    private IDistributedApplicationBuilder Build(ServerRuntime runtime, bool freePorts = true)
    {
        IDistributedApplicationBuilder builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions { Args = [], DisableDashboard = true });
        BazaarModel.Configure(builder, new BazaarOptions { DataDirectory = _dataDirectory, Runtime = runtime, FreePorts = freePorts });
        return builder;
    }

    private static IResource Resource(IDistributedApplicationBuilder builder, string name) => builder.Resources.Single(r => r.Name == name);

    private static string[] WaitsOf(IDistributedApplicationBuilder builder, string name) =>
        Resource(builder, name).Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name).Distinct().Order(StringComparer.Ordinal).ToArray();

    private static string ParameterValue(IDistributedApplicationBuilder builder, string name) =>
        ((ParameterResource)Resource(builder, name)).GetValueAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult()!;

    private static List<string> ArgsOf(ExecutableResource resource)
    {
        var context = new CommandLineArgsCallbackContext([], resource);
        foreach (CommandLineArgsCallbackAnnotation annotation in resource.Annotations.OfType<CommandLineArgsCallbackAnnotation>())
        {
            annotation.Callback(context).GetAwaiter().GetResult();
        }

        return context.Args.Select(a => a?.ToString() ?? string.Empty).ToList();
    }
}
