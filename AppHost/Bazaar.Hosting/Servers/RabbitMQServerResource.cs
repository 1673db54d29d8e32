using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Bazaar.Hosting.Processes;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using RabbitMQ.Client;

namespace Bazaar.Hosting;

/// <summary>A RabbitMQ broker: Debian's rabbitmq-server run directly, or the rabbitmq:3-management container.</summary>
public sealed class RabbitMQServerResource : BackingServerResource, IResourceWithConnectionString
{
    // The /usr/sbin wrapper switches to the rabbitmq user, which then cannot write a data directory of ours.
    public const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    public RabbitMQServerResource(string name, int? port = null)
        : base(name, port)
    {
        DistributionEndpoint = new EndpointAnnotation("dist", "tcp") { IsExternal = false };
        Annotations.Add(DistributionEndpoint);
    }

    /// <summary>The Erlang distribution port (the CLI tools talk to the node through it).</summary>
    public EndpointAnnotation DistributionEndpoint { get; }

    public override string PackageName => "rabbitmq-server";

    public override string ServerProgram => ServerScript;

    public override string ContainerImage => "rabbitmq:3-management";

    public override int ContainerPort => 5672;

    protected override string HealthCheckName => "amqp-connection";

    public string? GetConnectionString() =>
        Credentials is null || PrimaryEndpoint.AllocatedPorts.Count == 0
            ? null
            : $"amqp://{Uri.EscapeDataString(Credentials.UserName)}:{Uri.EscapeDataString(Credentials.Password)}@127.0.0.1:{Port}";

    /// <summary>Unique per data directory (nodes on one machine must differ) and stable across restarts (the data is the node's).</summary>
    public static string NodeName(string resourceName, string dataDirectory)
    {
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(dataDirectory))))[..8];
        return $"bazaar-{resourceName}-{hash}@localhost";
    }

    public override async Task PrepareAsync(ServerLaunchContext context, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.Combine(context.DataDirectory, "mnesia"));
        Directory.CreateDirectory(Path.Combine(context.DataDirectory, "log"));
        ServerCredentials credentials = RequiredCredentials;
        // default_user only takes effect when the node first creates its database: credentials are made once per data directory.
        string configuration = $"""
            listeners.tcp.default = 127.0.0.1:{Port}
            default_user = {credentials.UserName}
            default_pass = {credentials.Password}
            loopback_users = none
            log.console = true
            log.console.level = info
            log.file = false
            """;
        await File.WriteAllTextAsync(Path.Combine(context.DataDirectory, "rabbitmq.conf"), configuration + "\n", cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(context.DataDirectory, "enabled_plugins"), "[].\n", cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(context.DataDirectory, "rabbitmq-env.conf"), string.Empty, cancellationToken).ConfigureAwait(false);
    }

    public override ProcessSpec CreateProcessSpec(ServerLaunchContext context)
    {
        string directory = context.DataDirectory;
        return new ProcessSpec(ServerProgram, [])
        {
            WorkingDirectory = directory,
            Environment = new Dictionary<string, string>
            {
                ["RABBITMQ_NODENAME"] = NodeName(Name, directory),
                ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
                ["RABBITMQ_NODE_PORT"] = Port.ToString(CultureInfo.InvariantCulture),
                ["RABBITMQ_DIST_PORT"] = DistributionEndpoint.AllocatedPorts[0].ToString(CultureInfo.InvariantCulture),
                ["RABBITMQ_MNESIA_BASE"] = Path.Combine(directory, "mnesia"),
                ["RABBITMQ_MNESIA_DIR"] = Path.Combine(directory, "mnesia", "data"),
                ["RABBITMQ_LOG_BASE"] = Path.Combine(directory, "log"),
                ["RABBITMQ_LOGS"] = "-",
                ["RABBITMQ_PID_FILE"] = Path.Combine(directory, "rabbitmq.pid"),
                ["RABBITMQ_CONFIG_FILE"] = Path.Combine(directory, "rabbitmq.conf"),
                ["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(directory, "advanced.config"),
                ["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(directory, "rabbitmq-env.conf"),
                ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(directory, "enabled_plugins"),
                // Erlang's schedulers spin for more work before they sleep, which on a few shared cores takes CPU from
                // the services and the database; RabbitMQ's runtime guide describes turning it off where CPU is shared
                // (placement alone, RabbitMQ's CPU per order 0.03-0.04 ms against 0.04-0.045, eng/bench/RESULTS.md session 12).
                ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none",
                ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
                // The Erlang cookie lives in HOME.
                ["HOME"] = directory,
            },
        };
    }

    protected override (IReadOnlyDictionary<string, string>, string, IReadOnlyList<string>) ContainerSettings =>
        (new Dictionary<string, string>
        {
            ["RABBITMQ_DEFAULT_USER"] = RequiredCredentials.UserName,
            ["RABBITMQ_DEFAULT_PASS"] = RequiredCredentials.Password,
        }, "/var/lib/rabbitmq", []);

    public override async Task<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory
        {
            Uri = new Uri(GetConnectionString()!),
            RequestedConnectionTimeout = TimeSpan.FromSeconds(5),
            AutomaticRecoveryEnabled = false,
            ClientProvidedName = "bazaar-health-check",
        };
        try
        {
            await using IConnection connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy("AMQP connection opened");
        }
        catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.BrokerUnreachableException or IOException or System.Net.Sockets.SocketException
                                       or RabbitMQ.Client.Exceptions.OperationInterruptedException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"RabbitMQ on port {Port} refuses an AMQP connection: {ex.GetBaseException().Message}", ex);
        }
    }
}
