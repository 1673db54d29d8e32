using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Bazaar.Messaging;

/// <summary>
/// Hands the relay, the consumer and the dead-letter store the connection that Aspire's <c>AddRabbitMQClient</c>
/// registers, without blocking them. Aspire connects when <see cref="IConnection"/> is first resolved, synchronously, with
/// a few retries, and throws if the broker stays away; this resolves it off the caller's thread and tries again with
/// back-off until cancelled, so a service starts (and reports Unhealthy) while the broker is still down. Once connected,
/// the client's automatic recovery takes over; the container owns and closes the connection.
/// </summary>
public sealed partial class RabbitMQConnectionProvider(Func<IConnection> connect, ILogger<RabbitMQConnectionProvider> logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile IConnection? _connection;

    /// <summary>The connection if one was made already; null before the first successful connect.</summary>
    public IConnection? Current => _connection;

    /// <summary>Returns the shared connection, connecting first (with back-off, until cancelled) if needed.</summary>
    public async ValueTask<IConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        if (_connection is { } existing)
        {
            return existing;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var delay = TimeSpan.FromMilliseconds(100);
            for (var attempt = 1; ; attempt++)
            {
                if (_connection is { } connected)
                {
                    return connected;
                }

                try
                {
                    _connection = await Task.Run(connect, CancellationToken.None).WaitAsync(cancellationToken).ConfigureAwait(false);
                    LogConnected(logger, _connection.Endpoint.ToString(), attempt);
                    return _connection;
                }
                catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
                {
                    LogConnectFailed(logger, exception, attempt, delay);
                }

                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5_000));
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to RabbitMQ at {Endpoint} after {Attempt} attempt(s)")]
    private static partial void LogConnected(ILogger logger, string endpoint, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot connect to RabbitMQ (attempt {Attempt}); retrying in {Delay}")]
    private static partial void LogConnectFailed(ILogger logger, Exception exception, int attempt, TimeSpan delay);
}
