using Microsoft.Extensions.Diagnostics.HealthChecks;
using MySqlConnector;

namespace Bazaar.Data;

internal sealed class MySqlHealthCheck(MySqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy();
        }
        catch (Exception exception)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"Cannot reach database '{dataSource.DatabaseName()}'.", exception);
        }
    }
}
