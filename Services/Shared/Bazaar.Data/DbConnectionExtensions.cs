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

    /// <param name="commandTimeoutSeconds">For a statement that may wait longer than a request (a named lock); else the connection string's.</param>
    public static Task<T?> ExecuteScalarAsync<T>(this DbConnection connection, SqlStatement statement, object? parameters = null, DbTransaction? transaction = null, CancellationToken cancellationToken = default, int? commandTimeoutSeconds = null) =>
        RunAsync(connection, statement, new CommandDefinition(statement.Text, parameters, transaction, commandTimeoutSeconds, cancellationToken: cancellationToken), connection.ExecuteScalarAsync<T?>);

    /// <summary>Runs a command and returns the number of rows it changed.</summary>
    public static Task<int> ExecuteAsync(this DbConnection connection, SqlStatement statement, object? parameters = null, DbTransaction? transaction = null, CancellationToken cancellationToken = default) =>
        RunAsync(connection, statement, new CommandDefinition(statement.Text, parameters, transaction, cancellationToken: cancellationToken), connection.ExecuteAsync);

    private static Task<T> RunAsync<T>(DbConnection connection, SqlStatement statement, CommandDefinition command, Func<CommandDefinition, Task<T>> run) =>
        RunAsync(connection, statement.Name, (Command: command, Run: run), static (state, _) => state.Run(state.Command), command.CancellationToken);

    internal static async Task<T> RunAsync<TState, T>(DbConnection connection, string name, TState state, Func<TState, CancellationToken, Task<T>> run, CancellationToken cancellationToken)
    {
        // Database spans join a trace; they never begin one. Otherwise every idle poll of a relay or sweeper would be a
        // trace of its own, several a second per service, burying the requests on the dashboard.
        using var activity = Activity.Current is null ? null : DataTelemetry.Source.StartActivity(name, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("db.system.name", "mysql");
            activity.SetTag("db.namespace", connection.Database);
            activity.SetTag("db.query.summary", name);
            activity.SetTag("server.address", connection.DataSource);
        }

        try
        {
            return await run(state, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity.SetTag("error.type", exception.GetType().FullName);
            throw;
        }
    }
}
