using Bazaar.Hosting;

namespace Bazaar.UnitTests.Hosting;

public sealed class DependencyOrderTests
{
    private static IDistributedApplicationBuilder NewBuilder() =>
        DistributedApplication.CreateBuilder(new DistributedApplicationOptions { DashboardUrl = null, ConsoleLogging = false });

    [Fact]
    public void Every_resource_starts_after_everything_it_waits_for()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        IResourceBuilder<ProjectResource> web = builder.AddProject("web", "Web/Web.csproj");
        IResourceBuilder<RedisResource> cache = builder.AddRedis("cache");
        IResourceBuilder<MySqlServerResource> mysql = builder.AddMySql("mysql");
        IResourceBuilder<MySqlDatabaseResource> db = mysql.AddDatabase("appdb");
        IResourceBuilder<ProjectResource> api = builder.AddProject("api", "Api/Api.csproj").WaitFor(db).WaitFor(cache);
        web.WaitFor(api);

        List<string> order = DependencyGraph.StartOrder(new DistributedApplicationModel(builder.Resources)).Select(r => r.Name).ToList();

        Assert.True(order.IndexOf("mysql") < order.IndexOf("appdb"));
        Assert.True(order.IndexOf("appdb") < order.IndexOf("api"));
        Assert.True(order.IndexOf("cache") < order.IndexOf("api"));
        Assert.True(order.IndexOf("api") < order.IndexOf("web"));
        Assert.Equal(5, order.Count);
    }

    [Fact]
    public void A_database_depends_on_its_server_without_an_explicit_wait()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        IResourceBuilder<MySqlDatabaseResource> db = builder.AddMySql("mysql").AddDatabase("appdb");

        Assert.Equal(["mysql"], DependencyGraph.DependenciesOf(db.Resource).Select(r => r.Name));
    }

    [Fact]
    public void A_cycle_of_waits_is_refused_with_an_error_naming_the_cycle()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        IResourceBuilder<ProjectResource> a = builder.AddProject("a", "A/A.csproj");
        IResourceBuilder<ProjectResource> b = builder.AddProject("b", "B/B.csproj").WaitFor(a);
        IResourceBuilder<ProjectResource> c = builder.AddProject("c", "C/C.csproj").WaitFor(b);
        a.WaitFor(c);

        DistributedApplicationException error = Assert.Throws<DistributedApplicationException>(() => builder.Build());

        Assert.Contains("a -> c -> b -> a", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Waiting_for_oneself_is_refused()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        IResourceBuilder<ProjectResource> a = builder.AddProject("a", "A/A.csproj");

        Assert.Throws<DistributedApplicationException>(() => a.WaitFor(a));
    }

    [Fact]
    public void Two_resources_cannot_share_a_name()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        builder.AddRedis("cache");

        DistributedApplicationException error = Assert.Throws<DistributedApplicationException>(() => builder.AddRabbitMQ("cache"));
        Assert.Contains("'cache'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dependents_are_the_resources_to_stop_first()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        IResourceBuilder<RedisResource> cache = builder.AddRedis("cache");
        builder.AddProject("api", "Api/Api.csproj").WaitFor(cache);
        builder.AddProject("worker", "Worker/Worker.csproj").WaitFor(cache);
        builder.AddProject("lonely", "Lonely/Lonely.csproj");

        IEnumerable<string> dependents = DependencyGraph.DependentsOf(new DistributedApplicationModel(builder.Resources), cache.Resource).Select(r => r.Name);

        Assert.Equal(["api", "worker"], dependents);
    }
}
