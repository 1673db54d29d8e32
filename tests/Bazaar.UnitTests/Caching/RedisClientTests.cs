using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Bazaar.UnitTests.Caching;

/// <summary>What the services rely on from Aspire's AddRedisClient: a cache that is down does not stop a service starting.</summary>
public sealed class RedisClientTests
{
    /// <summary>A loopback port nothing listens on: taken from the OS, then given back.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task A_service_starts_while_Redis_is_down_and_reports_the_cache_unhealthy()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        builder.Configuration["ConnectionStrings:cache"] = $"127.0.0.1:{ClosedPort()},password=unused,connectTimeout=200";
        builder.AddRedisClient("cache");
        using IHost host = builder.Build();
        await host.StartAsync();

        IConnectionMultiplexer multiplexer = host.Services.GetRequiredService<IConnectionMultiplexer>();
        HealthReport report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(check => check.Name == "StackExchange.Redis");

        Assert.False(multiplexer.IsConnected);
        Assert.Equal(HealthStatus.Unhealthy, report.Entries["StackExchange.Redis"].Status);
        await host.StopAsync();
    }
}
