using System.Data.Common;
using System.Reflection;
using MySql.Data.MySqlClient;

namespace Bazaar.Data;

/// <summary>
/// Commits a transaction together with its last statements, in ONE command (<c>...; COMMIT</c>) instead of the
/// statements' round trip and then the driver's <c>Commit</c>. The server runs the statements and then COMMIT, or stops at
/// the first failing statement and leaves the transaction open, which the caller's dispose then rolls back. Afterwards
/// the driver's transaction object is told it has ended (its private <c>open</c> flag, which its own <c>Commit</c>
/// clears), so its dispose sends no ROLLBACK. MySql.Data is pinned (Directory.Packages.props); if a later version lacks
/// the flag this commits the usual way, and <c>TransactionStartTests</c> fails so that it is noticed.
/// </summary>
internal static class TransactionCommit
{
    private static readonly FieldInfo? Open = typeof(MySqlTransaction).GetField("open", BindingFlags.Instance | BindingFlags.NonPublic) is { } field && field.FieldType == typeof(bool)
        ? field
        : null;

    /// <summary>True when a transaction commits with its last statements in one command (the driver's flag was found).</summary>
    internal static bool IsSingleRoundTrip => Open is not null;

    public static async Task CommitAsync(DbTransaction transaction, SqlBatch last, CancellationToken cancellationToken)
    {
        if (last.IsEmpty)
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        var connection = transaction.Connection ?? throw new InvalidOperationException("The transaction has no connection.");
        if (Open is null || transaction is not MySqlTransaction)
        {
            await last.ExecuteAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        await last.ExecuteAsync(connection, transaction, prefix: null, suffix: "COMMIT", cancellationToken).ConfigureAwait(false);
        Open.SetValue(transaction, false);
    }
}
