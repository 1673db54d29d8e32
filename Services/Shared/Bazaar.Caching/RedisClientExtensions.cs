using System.Diagnostics;
using Bazaar.Caching;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

public static partial class RedisClientExtensions
{
    /// <summary>The ActivitySource of Redis spans; ServiceDefaults listens to <c>Bazaar.*</c>.</summary>
    public const string ActivitySourceName = "Bazaar.Caching";

    internal static readonly ActivitySource ActivitySource = new(ActivitySourceName);

    /// <summary>
    /// Registers StackExchange.Redis's <see cref="IConnectionMultiplexer"/> for <c>ConnectionStrings:{connectionName}</c>
    /// (as the default multiplexer and keyed by <paramref name="connectionName"/>) and a health check named
    /// <paramref name="connectionName"/> that sends PING. The connection is made with abortConnect=false, so a service
    /// starts while Redis is down and the multiplexer keeps reconnecting in the background.
    /// </summary>
    public static IHostApplicationBuilder AddRedisClient(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<RedisClientSettings>? configureSettings = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);

        var settings = new RedisClientSettings();
        builder.Configuration.GetSection($"Bazaar:Redis:{connectionName}").Bind(settings);
        settings.ConnectionString = builder.Configuration.GetConnectionString(connectionName) ?? settings.ConnectionString;
        configureSettings?.Invoke(settings);

        if (string.IsNullOrWhiteSpace(settings.ConnectionString))
        {
            throw new InvalidOperationException(
                $"No connection string for Redis '{connectionName}': set ConnectionStrings:{connectionName} (environment ConnectionStrings__{connectionName}).");
        }

        ConfigurationOptions options = ConfigurationOptions.Parse(settings.ConnectionString);
        options.AbortOnConnectFail = false;
        options.ClientName ??= builder.Environment.ApplicationName;

        builder.Services.AddKeyedSingleton<IConnectionMultiplexer>(connectionName, (services, _) =>
            Connect(options, connectionName, services.GetRequiredService<ILoggerFactory>().CreateLogger("Bazaar.Caching.Redis")));
        builder.Services.TryAddSingleton(services => services.GetRequiredKeyedService<IConnectionMultiplexer>(connectionName));

        if (!settings.DisableHealthChecks)
        {
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                connectionName,
                services => new RedisHealthCheck(services.GetRequiredKeyedService<IConnectionMultiplexer>(connectionName)),
                failureStatus: null,
                tags: ["ready", "cache"],
                timeout: settings.HealthCheckTimeout));
        }

        return builder;
    }

    private static ConnectionMultiplexer Connect(ConfigurationOptions options, string connectionName, ILogger logger)
    {
        using Activity? activity = ActivitySource.StartActivity("redis connect", ActivityKind.Client);
        activity?.SetTag("db.system.name", "redis");
        activity?.SetTag("server.address", string.Join(",", options.EndPoints));

        ConnectionMultiplexer multiplexer = ConnectionMultiplexer.Connect(options.Clone());
        multiplexer.ConnectionFailed += (_, e) => LogConnectionFailed(logger, connectionName, e.EndPoint?.ToString(), e.FailureType.ToString(), e.Exception);
        multiplexer.ConnectionRestored += (_, e) => LogConnectionRestored(logger, connectionName, e.EndPoint?.ToString());
        if (!multiplexer.IsConnected)
        {
            activity?.SetStatus(ActivityStatusCode.Error, "not connected; reconnecting in the background");
            LogStartedDisconnected(logger, connectionName);
        }

        return multiplexer;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Redis '{ConnectionName}' lost its connection to {EndPoint} ({FailureType}); reconnecting.")]
    private static partial void LogConnectionFailed(ILogger logger, string connectionName, string? endPoint, string failureType, Exception? exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Redis '{ConnectionName}' connection to {EndPoint} restored.")]
    private static partial void LogConnectionRestored(ILogger logger, string connectionName, string? endPoint);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Redis '{ConnectionName}' is not reachable yet; the service starts anyway and keeps trying.")]
    private static partial void LogStartedDisconnected(ILogger logger, string connectionName);
}
