using System.Net.Sockets;
using System.Text;
using Bazaar.Hosting.Processes;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bazaar.Hosting;

/// <summary>A Redis server: redis-server from the machine, or the redis:7 container.</summary>
public sealed class RedisResource(string name, int? port = null) : BackingServerResource(name, port), IResourceWithConnectionString
{
    public override string PackageName => "redis-server";

    public override string ServerProgram => "redis-server";

    public override string ContainerImage => "redis:7";

    public override int ContainerPort => 6379;

    public override string DefaultUserName => "default";

    protected override string HealthCheckName => "redis-ping";

    public string? GetConnectionString() =>
        Credentials is null || PrimaryEndpoint.AllocatedPorts.Count == 0 ? null : $"127.0.0.1:{Port},password={Credentials.Password}";

    public override Task PrepareAsync(ServerLaunchContext context, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(context.DataDirectory);
        return Task.CompletedTask;
    }

    public override ProcessSpec CreateProcessSpec(ServerLaunchContext context) => new(
        ServerProgram,
        [
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--dir", context.DataDirectory,
            "--requirepass", RequiredCredentials.Password,
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--appendonly", "yes",
            "--logfile", string.Empty,
        ])
    {
        WorkingDirectory = context.DataDirectory,
    };

    protected override (IReadOnlyDictionary<string, string>, string, IReadOnlyList<string>) ContainerSettings =>
        (new Dictionary<string, string>(), "/data", ["redis-server", "--requirepass", RequiredCredentials.Password, "--appendonly", "yes"]);

    public override async Task<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken)
    {
        // A raw RESP exchange: cheaper than a multiplexer per probe, and exactly AUTH + PING.
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port, cancellationToken).ConfigureAwait(false);
            NetworkStream stream = client.GetStream();
            byte[] request = Encoding.UTF8.GetBytes(
                $"*2\r\n$4\r\nAUTH\r\n${Encoding.UTF8.GetByteCount(RequiredCredentials.Password)}\r\n{RequiredCredentials.Password}\r\n*1\r\n$4\r\nPING\r\n");
            await stream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
            var reply = new StringBuilder();
            byte[] buffer = new byte[256];
            while (!reply.ToString().Contains("\r\n+PONG", StringComparison.Ordinal) && reply.ToString().Count(c => c == '\n') < 2)
            {
                int read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                reply.Append(Encoding.UTF8.GetString(buffer, 0, read));
            }

            string answer = reply.ToString();
            return answer.StartsWith("+OK\r\n+PONG", StringComparison.Ordinal)
                ? HealthCheckResult.Healthy("PONG")
                : HealthCheckResult.Unhealthy($"Redis answered '{answer.Trim()}' to AUTH + PING.");
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            return HealthCheckResult.Unhealthy($"Redis on port {Port} does not answer: {ex.Message}", ex);
        }
    }
}
