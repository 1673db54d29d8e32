using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using Bazaar.Hosting;
using Bazaar.Hosting.Probes;
using Microsoft.Extensions.DependencyInjection;

namespace Aspire.Hosting;

public static class RedisServerBuilderExtensions
{
    /// <summary>
    /// Adds <c>redis-server</c> as a local process: listening on 127.0.0.1 only, password from the data directory's
    /// secrets, append-only file in the data directory. Healthy when it answers AUTH + PING.
    /// </summary>
    public static IResourceBuilder<RedisServerResource> AddRedisServer(
        this IDistributedApplicationBuilder builder, [ResourceName] string name, BazaarDataDirectory data, int? port = null)
    {
        (string secret, IResourceBuilder<ParameterResource> password, string directory, int listenPort) = LocalServer.Prepare(builder, name, data, port, "redis-server", "redis-server");
        var resource = new RedisServerResource(name, directory, password.Resource);

        // The password goes in a file only its owner reads, not on the command line (ps, the dashboard's details).
        string configFile = Path.Combine(directory, "redis.conf");
        BazaarDataDirectory.WriteOwnerOnly(configFile, $"""
            port {listenPort.ToString(CultureInfo.InvariantCulture)}
            bind 127.0.0.1
            protected-mode yes
            daemonize no
            dir {directory}
            appendonly yes
            requirepass {secret}
            """);

        string healthCheck = $"{name}_ping";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, ct => ServerProbes.RedisPingAsync(listenPort, secret, ct));

        return builder.AddResource(resource)
            .WithEndpoint(port: listenPort, targetPort: listenPort, scheme: "tcp", name: RedisServerResource.PrimaryEndpointName, isProxied: false)
            .WithArgs(configFile)
            .WithIconName("Memory")
            .WithHealthCheck(healthCheck);
    }
}
