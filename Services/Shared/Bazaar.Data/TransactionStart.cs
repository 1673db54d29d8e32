using System.Data;
using System.Data.Common;
using System.Reflection;
using MySql.Data.MySqlClient;

namespace Bazaar.Data;

/// <summary>
/// Begins a transaction in ONE round trip. MySql.Data's <c>BeginTransaction</c> sends <c>SET SESSION TRANSACTION
/// ISOLATION LEVEL ...</c> and <c>BEGIN</c> as two commands, each a round trip (seen in the server's general log); a
/// transaction of the relay, the consumer or a group-commit writer is otherwise only three or four. Here both statements
/// go as one command, and the driver's transaction object is made as its <c>BeginTransaction</c> makes it (its internal
/// constructor; <c>BeginTransaction</c> does nothing else), so commit, rollback and dispose behave as ever. MySql.Data is
/// pinned (Directory.Packages.props); if a later version lacks that constructor this falls back to <c>BeginTransaction</c>,
/// and the integration test <c>TransactionStartTests</c> fails so that it is noticed.
/// </summary>
internal static class TransactionStart
{
    private static readonly ConstructorInfo? Constructor = typeof(MySqlTransaction).GetConstructor(
        BindingFlags.Instance | BindingFlags.NonPublic, [typeof(MySqlConnection), typeof(IsolationLevel)]);

    /// <summary>True when transactions begin in one round trip (the driver's constructor was found).</summary>
    internal static bool IsSingleRoundTrip => Constructor is not null;

    public static async Task<DbTransaction> BeginAsync(DbConnection connection, IsolationLevel isolationLevel, CancellationToken cancellationToken)
    {
        // The driver's own default for BeginTransaction() is REPEATABLE READ, set explicitly every time; so here too, since
        // a held connection may come from a transaction that set another level.
        var level = isolationLevel == IsolationLevel.Unspecified ? IsolationLevel.RepeatableRead : isolationLevel;
        if (Constructor is null || connection is not MySqlConnection mySql || Keyword(level) is not { } keyword)
        {
            return isolationLevel == IsolationLevel.Unspecified
                ? await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false)
                : await connection.BeginTransactionAsync(isolationLevel, cancellationToken).ConfigureAwait(false);
        }

        await using (var command = mySql.CreateCommand())
        {
            command.CommandText = "SET SESSION TRANSACTION ISOLATION LEVEL " + keyword + ";\nBEGIN";
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return (DbTransaction)Constructor.Invoke([mySql, level]);
    }

    /// <summary>
    /// The text that begins a transaction at <paramref name="isolationLevel"/>, for a command that carries the
    /// transaction's first statements after it (<see cref="Begun"/> then makes the transaction object); null when the
    /// driver's constructor is missing or the level has no keyword, and the caller must begin the usual way.
    /// </summary>
    internal static string? Prefix(DbConnection connection, IsolationLevel isolationLevel)
    {
        var level = isolationLevel == IsolationLevel.Unspecified ? IsolationLevel.RepeatableRead : isolationLevel;
        return Constructor is not null && connection is MySqlConnection && Keyword(level) is { } keyword
            ? "SET SESSION TRANSACTION ISOLATION LEVEL " + keyword + ";\nBEGIN;\n"
            : null;
    }

    /// <summary>The transaction object for a transaction that a command beginning with <see cref="Prefix"/> began.</summary>
    internal static DbTransaction Begun(DbConnection connection, IsolationLevel isolationLevel) =>
        (DbTransaction)Constructor!.Invoke([(MySqlConnection)connection, isolationLevel == IsolationLevel.Unspecified ? IsolationLevel.RepeatableRead : isolationLevel]);

    private static string? Keyword(IsolationLevel level) => level switch
    {
        IsolationLevel.ReadCommitted => "READ COMMITTED",
        IsolationLevel.ReadUncommitted => "READ UNCOMMITTED",
        IsolationLevel.RepeatableRead => "REPEATABLE READ",
        IsolationLevel.Serializable => "SERIALIZABLE",
        _ => null,
    };
}
