using Bazaar.Data;
using Bazaar.ServiceDefaults.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

public static class MySqlDataSourceExtensions
{
    /// <summary>
    /// Registers a <see cref="MySqlDataSource"/> for <c>ConnectionStrings:{connectionName}</c> (as the default
    /// data source and keyed by <paramref name="connectionName"/>) and a health check named <paramref name="connectionName"/>.
    /// </summary>
    public static IHostApplicationBuilder AddMySqlDataSource(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<MySqlDataSourceSettings>? configureSettings = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);

        var settings = new MySqlDataSourceSettings();
        builder.Configuration.GetSection($"Bazaar:MySql:{connectionName}").Bind(settings);
        settings.ConnectionString = builder.Configuration.GetConnectionString(connectionName) ?? settings.ConnectionString;
        configureSettings?.Invoke(settings);

        if (string.IsNullOrWhiteSpace(settings.ConnectionString))
        {
            throw new InvalidOperationException(
                $"No connection string for database '{connectionName}': set ConnectionStrings:{connectionName} (environment ConnectionStrings__{connectionName}).");
        }

        var dataSource = new MySqlDataSource(settings.ConnectionString, connectionName, settings.Retry);
        builder.Services.AddKeyedSingleton(connectionName, dataSource);
        builder.Services.TryAddSingleton(dataSource);
        // The database out of reach after the data source's own retries is a 503 (ServiceDefaults), not a 500.
        builder.Services.Configure<DependencyFailureOptions>(failures =>
        {
            if (!failures.Predicates.Contains(TransientErrors.IsTransient))
            {
                failures.Predicates.Add(TransientErrors.IsTransient);
            }
        });

        if (!settings.DisableHealthChecks)
        {
            builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
                connectionName,
                _ => new MySqlHealthCheck(dataSource),
                failureStatus: null,
                tags: ["ready", "db"],
                timeout: settings.HealthCheckTimeout));
        }

        return builder;
    }
}
