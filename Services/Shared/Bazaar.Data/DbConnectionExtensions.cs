using System.Data.Common;
using System.Diagnostics;
using Dapper;

namespace Bazaar.Data;

/// <summary>Dapper, with one span per command named after the statement (never its values).</summary>
public static class DbConnectionExtensions
{
    public static Task<IReadOnlyList<T>> QueryAsync<T>(this DbConnection connection, SqlStatement statement, object? parameters = null, DbTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        RunAsync(connection, statement, new CommandDefinition(statement.Text, parameters, transaction, cancellationToken: cancellationToken), async command =>
        {
            var rows = await connection.QueryAsync<T>(command).ConfigureAwait(false);
            return rows as IReadOnlyList<T> ?? rows.ToList();
        });

    public static Task<T?> QuerySingleOrDefaultAsync<T>(this DbConnection connection, SqlStatement statement, object? parameters = null, DbTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        RunAsync(connection, statement, new CommandDefinition(statement.Text, parameters, transaction, cancellationToken: cancellationToken), connection.QuerySingleOrDefaultAsync<T?>);

    public static Task<T?> ExecuteScalarAsync<T>(this DbConnection connection, SqlStatement statement, object? parameters = null, DbTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        RunAsync(connection, statement, new CommandDefinition(statement.Text, parameters, transaction, cancellationToken: cancellationToken), connection.ExecuteScalarAsync<T?>);

    /// <summary>Runs a command and returns the number of rows it changed.</summary>
    public static Task<int> ExecuteAsync(this DbConnection connection, SqlStatement statement, object? parameters = null, DbTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        RunAsync(connection, statement, new CommandDefinition(statement.Text, parameters, transaction, cancellationToken: cancellationToken), connection.ExecuteAsync);

    private static async Task<T> RunAsync<T>(DbConnection connection, SqlStatement statement, CommandDefinition command, Func<CommandDefinition, Task<T>> run)
    {
        using var activity = DataTelemetry.Source.StartActivity(statement.Name, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("db.system.name", "mysql");
            activity.SetTag("db.namespace", connection.Database);
            activity.SetTag("db.query.summary", statement.Name);
            activity.SetTag("server.address", connection.DataSource);
        }

        try
        {
            return await run(command).ConfigureAwait(false);
        }
        catch (Exception exception) when (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity.SetTag("error.type", exception.GetType().FullName);
            throw;
        }
    }
}
