using Bazaar.Data;
using Bazaar.ServiceDefaults.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using MySqlConnector;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// MySqlConnector's client integration, standing in for <c>Aspire.MySqlConnector</c> (not served here) and behaving like
/// it: the connection string from <c>ConnectionStrings:{name}</c>, settings from <c>Aspire:MySqlConnector[:{name}]</c>,
/// MySqlConnector's own <see cref="MySqlDataSource"/>, a health check, MySqlConnector's traces and metrics. Ours adds
/// what Bazaar's services rely on: the health check is named after the connection, database failures answer 503
/// (ServiceDefaults), transient ones are retried (<see cref="DataSourceWork"/>), and every connection string gets
/// deadlines unless it names its own (<see cref="Deadlines"/>).
/// </summary>
public static class MySqlDataSourceExtensions
{
    private const string DefaultConfigSectionName = "Aspire:MySqlConnector";

    /// <summary>
    /// Registers MySqlConnector's <see cref="MySqlDataSource"/> for <c>ConnectionStrings:{connectionName}</c>, as the
    /// default data source and keyed by <paramref name="connectionName"/>, and a health check named
    /// <paramref name="connectionName"/>.
    /// </summary>
    public static IHostApplicationBuilder AddMySqlDataSource(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<MySqlConnectorSettings>? configureSettings = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);

        var settings = new MySqlConnectorSettings();
        var section = builder.Configuration.GetSection(DefaultConfigSectionName);
        section.Bind(settings);
        section.GetSection(connectionName).Bind(settings);
        if (builder.Configuration.GetConnectionString(connectionName) is { } connectionString)
        {
            settings.ConnectionString = connectionString;
        }

        configureSettings?.Invoke(settings);

        if (string.IsNullOrWhiteSpace(settings.ConnectionString))
        {
            throw new InvalidOperationException(
                $"No connection string for database '{connectionName}': set ConnectionStrings:{connectionName} (environment ConnectionStrings__{connectionName}).");
        }

        var withDeadlines = Deadlines.Apply(settings.ConnectionString);
        builder.Services.AddKeyedSingleton(connectionName, (services, _) =>
        {
            var dataSource = new MySqlDataSourceBuilder(withDeadlines)
                .UseName(connectionName)
                .UseLoggerFactory(services.GetService<ILoggerFactory>())
                .Build();
            DataSourceWork.UseRetry(dataSource, settings.Retry);
            return dataSource;
        });
        builder.Services.TryAddSingleton(services => services.GetRequiredKeyedService<MySqlDataSource>(connectionName));

        // The database out of reach, overloaded or not answering is a 503 (ServiceDefaults), not a 500.
        builder.Services.Configure<DependencyFailureOptions>(failures =>
        {
            if (!failures.Predicates.Contains(TransientErrors.IsUnavailable))
            {
                failures.Predicates.Add(TransientErrors.IsUnavailable);
            }
        });

        if (!settings.DisableHealthChecks)
        {
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                connectionName,
                services => new MySqlHealthCheck(services.GetRequiredKeyedService<MySqlDataSource>(connectionName)),
                failureStatus: null,
                tags: ["ready", "db"],
                timeout: settings.HealthCheckTimeout));
        }

        if (!settings.DisableTracing)
        {
            builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddSource("MySqlConnector"));
        }

        if (!settings.DisableMetrics)
        {
            builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddMeter("MySqlConnector"));
        }

        return builder;
    }
}
