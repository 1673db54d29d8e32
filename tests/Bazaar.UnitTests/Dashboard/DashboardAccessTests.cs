using Bazaar.Dashboard.Access;
using Bazaar.Dashboard.Components.Shared;
using Bazaar.Hosting;

namespace Bazaar.UnitTests.Dashboard;

public sealed class DashboardAccessTests
{
    [Theory]
    [InlineData("http://127.0.0.1:18888", false)]
    [InlineData("http://localhost:18888", false)]
    [InlineData("http://[::1]:18888", false)]
    [InlineData("http://0.0.0.0:18888", true)]
    [InlineData("http://*:18888", true)]
    [InlineData("http://+:18888", true)]
    [InlineData("http://10.1.2.3:18888", true)]
    public void Only_addresses_beyond_loopback_require_the_browser_token(string url, bool remote)
    {
        Assert.Equal(remote, BrowserTokenAccess.IsRemoteAddress(url));
    }

    [Fact]
    public void The_graph_puts_servers_before_the_services_that_use_them()
    {
        var builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions { DashboardUrl = null, ConsoleLogging = false });
        var cache = builder.AddRedis("cache");
        var mysql = builder.AddMySql("mysql");
        var db = mysql.AddDatabase("catalogdb");
        builder.AddExecutable("catalog", "/bin/true", "/").WithReference(db).WaitFor(db).WithReference(cache);
        var model = new DistributedApplicationModel(builder.Resources);

        var layout = GraphLayout.Of(model, nodeWidth: 100, nodeHeight: 40, columnGap: 50, rowGap: 10, margin: 0);

        Assert.Equal(0, layout.Positions["cache"].X);
        Assert.Equal(0, layout.Positions["mysql"].X);
        Assert.Equal(150, layout.Positions["catalogdb"].X);
        Assert.Equal(300, layout.Positions["catalog"].X);
        Assert.Contains(("catalog", "catalogdb", EdgeKind.Reference), layout.Edges);
        Assert.Single(layout.Edges, e => e.From == "catalog" && e.To == "catalogdb");
    }
}
