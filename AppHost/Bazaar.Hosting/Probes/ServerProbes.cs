using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MySqlConnector;
using RabbitMQ.Client;

namespace Bazaar.Hosting.Probes;

/// <summary>
/// Health by protocol: a listening socket proves nothing (a starting server, or a proxy in front of it, accepts before
/// it answers), so each probe speaks the server's protocol and logs in with its credentials.
/// </summary>
public static class ServerProbes
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A raw RESP exchange, AUTH then PING: cheaper than a multiplexer per probe.</summary>
    public static async Task<HealthCheckResult> RedisPingAsync(int port, string password, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port, timeout.Token).ConfigureAwait(false);
            NetworkStream stream = client.GetStream();
            byte[] request = Encoding.UTF8.GetBytes(
                $"*2\r\n$4\r\nAUTH\r\n${Encoding.UTF8.GetByteCount(password)}\r\n{password}\r\n*1\r\n$4\r\nPING\r\n");
            await stream.WriteAsync(request, timeout.Token).ConfigureAwait(false);
            var reply = new StringBuilder();
            byte[] buffer = new byte[256];
            while (reply.ToString().Count(c => c == '\n') < 2)
            {
                int read = await stream.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
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
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"Redis on port {port} does not answer: {ex.Message}");
        }
    }

    /// <summary>Opens and closes an AMQP connection with the broker's credentials.</summary>
    public static async Task<HealthCheckResult> AmqpConnectAsync(string connectionString, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory
        {
            Uri = new Uri(connectionString),
            RequestedConnectionTimeout = ProbeTimeout,
            AutomaticRecoveryEnabled = false,
            ClientProvidedName = "bazaar-health-check",
        };
        try
        {
            await using IConnection connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
            await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy("AMQP connection opened");
        }
        catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.BrokerUnreachableException or IOException or SocketException
                                       or RabbitMQ.Client.Exceptions.OperationInterruptedException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"RabbitMQ refuses an AMQP connection: {ex.GetBaseException().Message}");
        }
    }

    /// <summary>Logs in and runs SELECT 1 on a connection of its own (no pool: a probe must not keep connections open).</summary>
    public static async Task<HealthCheckResult> MySqlSelectOneAsync(string connectionString, CancellationToken cancellationToken)
    {
        var builder = new MySqlConnectionStringBuilder(connectionString) { Pooling = false, ConnectionTimeout = (uint)ProbeTimeout.TotalSeconds };
        try
        {
            await using var connection = new MySqlConnection(builder.ConnectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new MySqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy("SELECT 1");
        }
        catch (Exception ex) when (ex is MySqlException or InvalidOperationException or IOException or SocketException)
        {
            return HealthCheckResult.Unhealthy($"MySQL on port {builder.Port} does not answer SELECT 1: {ex.Message}");
        }
    }
}
