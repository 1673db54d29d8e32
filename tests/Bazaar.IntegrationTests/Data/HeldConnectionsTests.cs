using Bazaar.Data;
using Bazaar.Testing;

namespace Bazaar.IntegrationTests.Data;

public sealed class HeldConnectionsTests
{
    private static readonly SqlStatement CreateRows = new("rows.create", "CREATE TABLE held_rows (id INT PRIMARY KEY)");
    private static readonly SqlStatement InsertRow = new("rows.insert", "INSERT INTO held_rows (id) VALUES (@id)");
    private static readonly SqlStatement CountRows = new("rows.count", "SELECT COUNT(*) FROM held_rows");
    private static readonly SqlStatement ConnectionId = new("connection.id", "SELECT CONNECTION_ID()");
    private static readonly SqlStatement Kill = new("connection.kill", "KILL CONNECTION @id");

    [Fact]
    public async Task Transactions_run_one_after_another_share_one_connection_opened_once()
    {
        var dataSource = await CreateAsync("held_reuse");
        await using var held = dataSource.HoldConnections(capacity: 1);
        var connectionIds = new HashSet<long>();

        for (var id = 0; id < 20; id++)
        {
            connectionIds.Add(await held.InTransactionAsync(async (connection, transaction, token) =>
            {
                await connection.ExecuteAsync(InsertRow, new { id }, transaction, token);
                return await connection.ExecuteScalarAsync<long>(ConnectionId, transaction: transaction, cancellationToken: token);
            }));
        }

        Assert.Equal(1, held.Opened);
        Assert.Single(connectionIds);
        Assert.Equal(20, await dataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(CountRows, cancellationToken: t)));
    }

    [Fact]
    public async Task A_held_connection_the_server_killed_is_replaced_and_the_next_transaction_still_commits_once()
    {
        var dataSource = await CreateAsync("held_killed");
        await using var held = dataSource.HoldConnections(capacity: 1);
        var first = await held.InTransactionAsync((connection, transaction, token) =>
            connection.ExecuteScalarAsync<long>(ConnectionId, transaction: transaction, cancellationToken: token));

        await dataSource.WithConnectionAsync((c, t) => c.ExecuteAsync(Kill, new { id = first }, cancellationToken: t));
        var second = await held.InTransactionAsync(async (connection, transaction, token) =>
        {
            await connection.ExecuteAsync(InsertRow, new { id = 1 }, transaction, token);
            return await connection.ExecuteScalarAsync<long>(ConnectionId, transaction: transaction, cancellationToken: token);
        });

        Assert.NotEqual(first, second);
        Assert.Equal(2, held.Opened);
        Assert.Equal(1, await dataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(CountRows, cancellationToken: t)));
    }

    [Fact]
    public async Task A_transaction_that_fails_is_rolled_back_and_its_connection_is_not_reused()
    {
        var dataSource = await CreateAsync("held_failed");
        await using var held = dataSource.HoldConnections(capacity: 1);

        await Assert.ThrowsAsync<InvalidOperationException>(() => held.InTransactionAsync<int>(async (connection, transaction, token) =>
        {
            await connection.ExecuteAsync(InsertRow, new { id = 1 }, transaction, token);
            throw new InvalidOperationException("the work failed after its insert");
        }));
        await held.InTransactionAsync((connection, transaction, token) => connection.ExecuteAsync(InsertRow, new { id = 2 }, transaction, token));

        Assert.Equal(2, held.Opened);
        Assert.Equal(1, await dataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(CountRows, cancellationToken: t)));
    }

    private static async Task<MySqlDataSource> CreateAsync(string name)
    {
        var servers = await TestServers.SharedAsync();
        var dataSource = new MySqlDataSource(await servers.CreateDatabaseAsync(name), retry: new DataRetryOptions { MaxRetryAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(20) });
        await dataSource.WithConnectionAsync((c, t) => c.ExecuteAsync(CreateRows, cancellationToken: t));
        return dataSource;
    }
}
