using Bazaar.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Microsoft.Extensions.Hosting;

public static class RabbitMQClientExtensions
{
    /// <summary>
    /// Registers RabbitMQ.Client's <see cref="IConnection"/> for <c>ConnectionStrings:{connectionName}</c> (an amqp:// URI),
    /// connected lazily with automatic recovery, and a health check named <paramref name="connectionName"/>.
    /// Hosted services should take <see cref="RabbitMQConnectionProvider"/> and await its connection instead of blocking.
    /// </summary>
    public static IHostApplicationBuilder AddRabbitMQClient(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<RabbitMQClientSettings>? configureSettings = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);

        var settings = new RabbitMQClientSettings();
        builder.Configuration.GetSection($"Bazaar:RabbitMQ:{connectionName}").Bind(settings);
        settings.ConnectionString = builder.Configuration.GetConnectionString(connectionName) ?? settings.ConnectionString;
        configureSettings?.Invoke(settings);

        if (string.IsNullOrWhiteSpace(settings.ConnectionString))
        {
            throw new InvalidOperationException(
                $"No connection string for RabbitMQ '{connectionName}': set ConnectionStrings:{connectionName} (environment ConnectionStrings__{connectionName}).");
        }

        var connectionString = settings.ConnectionString;
        var clientName = builder.Environment.ApplicationName;
        builder.Services.AddKeyedSingleton(connectionName, (sp, _) => new RabbitMQConnectionProvider(
            connectionString, settings, clientName, sp.GetRequiredService<ILogger<RabbitMQConnectionProvider>>()));
        builder.Services.TryAddSingleton(sp => sp.GetRequiredKeyedService<RabbitMQConnectionProvider>(connectionName));
        builder.Services.AddKeyedSingleton(connectionName, (sp, key) => Connect(sp.GetRequiredKeyedService<RabbitMQConnectionProvider>(key), settings));
        builder.Services.TryAddSingleton(sp => sp.GetRequiredKeyedService<IConnection>(connectionName));

        if (!settings.DisableHealthChecks)
        {
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                connectionName,
                sp => new RabbitMQHealthCheck(sp.GetRequiredKeyedService<RabbitMQConnectionProvider>(connectionName)),
                failureStatus: null,
                tags: ["ready", "messaging"],
                timeout: settings.HealthCheckTimeout));
        }

        return builder;
    }

    // DI resolves synchronously; bound the wait so a missing broker fails the resolution instead of hanging it.
    private static IConnection Connect(RabbitMQConnectionProvider provider, RabbitMQClientSettings settings)
    {
        using var timeout = new CancellationTokenSource(settings.ConnectTimeout);
        try
        {
            return provider.GetConnectionAsync(timeout.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException exception)
        {
            throw new InvalidOperationException($"RabbitMQ did not answer within {settings.ConnectTimeout}.", exception);
        }
    }
}
