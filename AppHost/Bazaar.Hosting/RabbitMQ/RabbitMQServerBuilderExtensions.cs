using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Aspire.Hosting.ApplicationModel;
using Bazaar.Hosting;
using Bazaar.Hosting.Probes;
using Microsoft.Extensions.DependencyInjection;

namespace Aspire.Hosting;

public static class RabbitMQServerBuilderExtensions
{
    private const string UserName = "bazaar";

    /// <summary>
    /// Adds <c>rabbitmq-server</c> as a local process: AMQP and the Erlang distribution port on 127.0.0.1 only, the node's
    /// database and cookie in the data directory, a user whose password is a data-directory secret. Healthy when an AMQP
    /// connection with those credentials opens.
    /// </summary>
    public static IResourceBuilder<RabbitMQBrokerResource> AddRabbitMQServer(
        this IDistributedApplicationBuilder builder, [ResourceName] string name, BazaarDataDirectory data, int? port = null)
    {
        (string secret, IResourceBuilder<ParameterResource> password, string directory, int listenPort) = LocalServer.Prepare(builder, name, data, port, RabbitMQBrokerResource.ServerScript, "rabbitmq-server");
        int distributionPort = data.Port($"{name}-dist", preferred: null);
        var resource = new RabbitMQBrokerResource(name, directory, UserName, password.Resource);

        Directory.CreateDirectory(Path.Combine(directory, "mnesia"));
        Directory.CreateDirectory(Path.Combine(directory, "log"));
        // default_user takes effect when the node first creates its database: the password is made once per data directory.
        BazaarDataDirectory.WriteOwnerOnly(Path.Combine(directory, "rabbitmq.conf"), $"""
            listeners.tcp.default = 127.0.0.1:{listenPort.ToString(CultureInfo.InvariantCulture)}
            default_user = {UserName}
            default_pass = {secret}
            loopback_users = none
            log.console = true
            log.console.level = info
            log.file = false
            """);
        File.WriteAllText(Path.Combine(directory, "enabled_plugins"), "[].\n");
        File.WriteAllText(Path.Combine(directory, "rabbitmq-env.conf"), string.Empty);

        string connectionString = $"amqp://{UserName}:{secret}@127.0.0.1:{listenPort.ToString(CultureInfo.InvariantCulture)}";
        string healthCheck = $"{name}_amqp";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, ct => ServerProbes.AmqpConnectAsync(connectionString, ct));

        return builder.AddResource(resource)
            .WithEndpoint(port: listenPort, targetPort: listenPort, scheme: "tcp", name: RabbitMQBrokerResource.PrimaryEndpointName, isProxied: false)
            .WithEnvironment("RABBITMQ_NODENAME", NodeName(name, directory))
            .WithEnvironment("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .WithEnvironment("RABBITMQ_NODE_PORT", listenPort.ToString(CultureInfo.InvariantCulture))
            .WithEnvironment("RABBITMQ_DIST_PORT", distributionPort.ToString(CultureInfo.InvariantCulture))
            .WithEnvironment("RABBITMQ_MNESIA_BASE", Path.Combine(directory, "mnesia"))
            .WithEnvironment("RABBITMQ_MNESIA_DIR", Path.Combine(directory, "mnesia", "data"))
            .WithEnvironment("RABBITMQ_LOG_BASE", Path.Combine(directory, "log"))
            .WithEnvironment("RABBITMQ_LOGS", "-")
            .WithEnvironment("RABBITMQ_PID_FILE", Path.Combine(directory, "rabbitmq.pid"))
            .WithEnvironment("RABBITMQ_CONFIG_FILE", Path.Combine(directory, "rabbitmq.conf"))
            .WithEnvironment("RABBITMQ_ADVANCED_CONFIG_FILE", Path.Combine(directory, "advanced.config"))
            .WithEnvironment("RABBITMQ_CONF_ENV_FILE", Path.Combine(directory, "rabbitmq-env.conf"))
            .WithEnvironment("RABBITMQ_ENABLED_PLUGINS_FILE", Path.Combine(directory, "enabled_plugins"))
            // The distribution port on loopback only. Erlang's schedulers spin for work before they sleep, which on a few
            // shared cores takes CPU from the services and the database; RabbitMQ's runtime guide turns it off where CPU
            // is shared (eng/bench/RESULTS.md, session 12).
            .WithEnvironment("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none")
            .WithEnvironment("ERL_EPMD_ADDRESS", "127.0.0.1")
            // The Erlang cookie lives in HOME.
            .WithEnvironment("HOME", directory)
            .WithIconName("Mail")
            .WithHealthCheck(healthCheck);
    }

    /// <summary>Unique per data directory (nodes on one machine must differ) and stable across restarts (the data is the node's).</summary>
    internal static string NodeName(string resourceName, string directory)
    {
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(directory))))[..8];
        return $"bazaar-{resourceName}-{hash}@localhost";
    }
}
