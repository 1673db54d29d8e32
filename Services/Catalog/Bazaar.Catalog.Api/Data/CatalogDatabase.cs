using System.Data;
using System.Data.Common;
using Bazaar.Data;
using MySqlConnector;

namespace Bazaar.Catalog.Api.Data;

/// <summary>
/// Opens connections and runs units of work in a transaction with the data source's transient-error retry
/// (a deadlock victim is rolled back by InnoDB, so running the whole unit again is safe).
/// </summary>
internal sealed class CatalogDatabase(MySqlDataSource dataSource)
{
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => await dataSource.OpenConnectionAsync(cancellationToken);

    /// <summary>Commits what <paramref name="work"/> did unless it called <see cref="UnitOfWork.RollbackAsync"/>.</summary>
    public Task<T> InTransactionAsync<T>(Func<UnitOfWork, Task<T>> work, CancellationToken cancellationToken) =>
        dataSource.WithRetryAsync(async token =>
        {
            await using DbConnection connection = await dataSource.OpenConnectionAsync(token);
            await using DbTransaction transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, token);
            var unit = new UnitOfWork(connection, transaction);
            T result = await work(unit);
            if (!unit.RolledBack)
            {
                await transaction.CommitAsync(token);
            }

            return result;
        }, cancellationToken);
}

/// <summary>A connection with its open transaction; pass <see cref="Transaction"/> to every command.</summary>
internal sealed class UnitOfWork(DbConnection connection, DbTransaction transaction)
{
    public DbConnection Connection { get; } = connection;

    public DbTransaction Transaction { get; } = transaction;

    public bool RolledBack { get; private set; }

    /// <summary>Undoes the unit's changes; the unit then ends without a commit.</summary>
    public async Task RollbackAsync(CancellationToken cancellationToken)
    {
        await Transaction.RollbackAsync(cancellationToken);
        RolledBack = true;
    }
}
