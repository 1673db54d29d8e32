using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Bazaar.Messaging;

/// <summary>
/// Connects lazily and keeps trying until the broker answers, so a service starts (and reports Unhealthy)
/// while the broker is still down. Once connected, the client's automatic recovery takes over.
/// </summary>
public sealed partial class RabbitMQConnectionProvider : IAsyncDisposable
{
    private readonly ConnectionFactory _factory;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile IConnection? _connection;
    private bool _disposed;

    public RabbitMQConnectionProvider(string connectionString, RabbitMQClientSettings settings, string clientName, ILogger<RabbitMQConnectionProvider> logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _factory = new ConnectionFactory
        {
            Uri = new Uri(connectionString),
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = settings.NetworkRecoveryInterval,
            ClientProvidedName = clientName,
        };
        _logger = logger;
    }

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
            ObjectDisposedException.ThrowIf(_disposed, this);
            var delay = TimeSpan.FromMilliseconds(100);
            for (var attempt = 1; ; attempt++)
            {
                if (_connection is { } connected)
                {
                    return connected;
                }

                try
                {
                    _connection = await _factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
                    LogConnected(_logger, _factory.Endpoint.ToString(), attempt);
                    return _connection;
                }
                catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
                {
                    LogConnectFailed(_logger, exception, _factory.Endpoint.ToString(), attempt, delay);
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

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            if (_connection is { } connection)
            {
                _connection = null;
                try
                {
                    await connection.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                }
                catch (Exception exception)
                {
                    LogCloseFailed(_logger, exception);
                }

                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to RabbitMQ at {Endpoint} after {Attempt} attempt(s)")]
    private static partial void LogConnected(ILogger logger, string endpoint, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot connect to RabbitMQ at {Endpoint} (attempt {Attempt}); retrying in {Delay}")]
    private static partial void LogConnectFailed(ILogger logger, Exception exception, string endpoint, int attempt, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Closing the RabbitMQ connection failed")]
    private static partial void LogCloseFailed(ILogger logger, Exception exception);
}
