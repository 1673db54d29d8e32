using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Bazaar.UnitTests.ServiceDefaults;

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
    public void Without_a_connection_string_the_error_names_the_key_to_set()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddRedisClient("cache"));

        Assert.Contains("ConnectionStrings:cache", error.Message, StringComparison.Ordinal);
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
        HealthReport report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(check => check.Name == "cache");

        Assert.False(multiplexer.IsConnected);
        Assert.Equal(HealthStatus.Unhealthy, report.Entries["cache"].Status);
        Assert.Same(multiplexer, host.Services.GetRequiredKeyedService<IConnectionMultiplexer>("cache"));
        await host.StopAsync();
    }
}
