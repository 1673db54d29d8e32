using System.Data.Common;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace Bazaar.Data.Migrations;

/// <summary>
/// Applies versioned scripts in order, under a server-wide named lock (GET_LOCK) so replicas starting together do not race,
/// and records each in a history table with its checksum. An applied script whose file changed stops the start.
/// </summary>
public sealed partial class MigrationRunner(MySqlDataSource dataSource, ILogger<MigrationRunner> logger, TimeProvider timeProvider)
{
    private static readonly SqlStatement CreateHistory = new("migrations.create_history", """
        CREATE TABLE IF NOT EXISTS __bazaar_migrations (
            scope VARCHAR(190) NOT NULL,
            version INT NOT NULL,
            name VARCHAR(255) NOT NULL,
            checksum CHAR(64) NOT NULL,
            applied_at DATETIME(6) NOT NULL,
            duration_ms INT NOT NULL,
            PRIMARY KEY (scope, version)
        )
        """);

    private static readonly SqlStatement AcquireLock = new("migrations.get_lock", "SELECT GET_LOCK(@name, @timeoutSeconds)");
    private static readonly SqlStatement ReleaseLock = new("migrations.release_lock", "SELECT RELEASE_LOCK(@name)");
    private static readonly SqlStatement ReadHistory = new("migrations.read_history", "SELECT version AS Version, checksum AS Checksum FROM __bazaar_migrations WHERE scope = @scope");
    private static readonly SqlStatement RecordMigration = new("migrations.record", """
        INSERT INTO __bazaar_migrations (scope, version, name, checksum, applied_at, duration_ms)
        VALUES (@scope, @version, @name, @checksum, @appliedAt, @durationMs)
        """);

    /// <summary>How long to wait for another process that is migrating the same database.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Applies what is pending of <paramref name="migrations"/>; returns how many were applied.</summary>
    public async Task<int> RunAsync(string scope, IReadOnlyList<Migration> migrations, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(scope);
        await using var connection = await OpenCreatingDatabaseAsync(cancellationToken).ConfigureAwait(false);
        var database = dataSource.DatabaseName();
        var lockName = LockName(database);
        var acquired = await connection.ExecuteScalarAsync<long?>(AcquireLock, new { name = lockName, timeoutSeconds = (int)LockTimeout.TotalSeconds },
            cancellationToken: cancellationToken, commandTimeoutSeconds: (int)LockTimeout.TotalSeconds + Deadlines.CommandTimeoutSeconds).ConfigureAwait(false);
        if (acquired != 1)
        {
            throw new TimeoutException($"Another process held the migration lock of database '{dataSource.DatabaseName()}' for more than {LockTimeout}.");
        }

        int applied;
        try
        {
            applied = await ApplyPendingAsync(connection, scope, migrations, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Closing the connection releases the lock; a broken connection must not hide the real failure.
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        await connection.ExecuteScalarAsync<long?>(ReleaseLock, new { name = lockName }, cancellationToken: CancellationToken.None).ConfigureAwait(false);
        return applied;
    }

    private async Task<int> ApplyPendingAsync(DbConnection connection, string scope, IReadOnlyList<Migration> migrations, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(CreateHistory, cancellationToken: cancellationToken).ConfigureAwait(false);
        var applied = (await connection.QueryAsync<AppliedMigration>(ReadHistory, new { scope }, cancellationToken: cancellationToken).ConfigureAwait(false))
            .ToDictionary(m => m.Version, m => m.Checksum);

        foreach (var migration in migrations)
        {
            if (applied.TryGetValue(migration.Version, out var checksum) && !string.Equals(checksum, migration.Checksum, StringComparison.OrdinalIgnoreCase))
            {
                throw new MigrationChecksumMismatchException(dataSource.DatabaseName(), scope, migration, checksum);
            }
        }

        var count = 0;
        foreach (var migration in migrations.Where(m => !applied.ContainsKey(m.Version)))
        {
            var started = timeProvider.GetTimestamp();
            try
            {
                await using var command = connection.CreateCommand();
                command.CommandText = migration.Sql;
                command.CommandTimeout = 0;
                using var activity = DataTelemetry.Source.StartActivity("migrations.apply", ActivityKind.Client);
                activity?.SetTag("db.namespace", dataSource.DatabaseName());
                activity?.SetTag("bazaar.migration", migration.Name);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                throw new InvalidOperationException(
                    $"Migration {migration.Name} ({scope}) failed on database '{dataSource.DatabaseName()}': {exception.Message}", exception);
            }

            var elapsed = timeProvider.GetElapsedTime(started);
            await connection.ExecuteAsync(RecordMigration, new
            {
                scope,
                version = migration.Version,
                name = migration.Name,
                checksum = migration.Checksum,
                appliedAt = timeProvider.GetUtcNow().UtcDateTime,
                durationMs = (int)elapsed.TotalMilliseconds,
            }, cancellationToken: cancellationToken).ConfigureAwait(false);
            LogApplied(logger, migration.Name, scope, dataSource.DatabaseName(), elapsed.TotalMilliseconds);
            count++;
        }

        return count;
    }

    private async Task<DbConnection> OpenCreatingDatabaseAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MySqlException exception) when (IsUnknownDatabase(exception))
        {
            await using (var withoutDatabase = dataSource.WithoutDatabase())
            await using (var server = await withoutDatabase.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
            await using (var command = server.CreateCommand())
            {
                command.CommandText = $"CREATE DATABASE IF NOT EXISTS `{dataSource.DatabaseName().Replace("`", "``", StringComparison.Ordinal)}`";
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            return await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsUnknownDatabase(Exception? exception) =>
        exception is not null && ((exception as MySqlException)?.ErrorCode == MySqlErrorCode.UnknownDatabase || IsUnknownDatabase(exception.InnerException));

    // GET_LOCK names are server-wide and at most 64 characters.
    internal static string LockName(string database)
    {
        var name = "bazaar-migrations:" + database;
        return name.Length <= 64 ? name : name[..48] + ":" + Migration.ComputeChecksum(database)[..15];
    }

    private sealed record AppliedMigration(int Version, string Checksum);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {Migration} ({Scope}) to {Database} in {ElapsedMs:F0} ms")]
    private static partial void LogApplied(ILogger logger, string migration, string scope, string database, double elapsedMs);
}
