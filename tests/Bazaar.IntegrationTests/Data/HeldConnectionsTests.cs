using System.Data;
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

    private static readonly SqlStatement SessionCounters = new("session.counters", """
        SELECT CONCAT(
            (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'COM_COMMIT'), ' ',
            (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'COM_ROLLBACK'), ' ',
            @@in_transaction)
        """);

    [Fact]
    public async Task A_two_command_transaction_sends_its_first_rows_with_BEGIN_and_its_last_with_COMMIT_and_the_driver_sends_no_rollback()
    {
        var dataSource = await CreateAsync("held_fused");
        await using var held = dataSource.HoldConnections(capacity: 1);
        async Task<string?> CountersAsync() =>
            await held.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<string>(SessionCounters, cancellationToken: t));
        var before = (await CountersAsync())!.Split(' ').Select(long.Parse).ToArray();

        var seen = await held.InTransactionAsync(Rows(1, 2), async (connection, transaction, last, token) =>
        {
            last.Insert("INSERT INTO held_rows (id) VALUES").Row(3).End();
            return await connection.ExecuteScalarAsync<long>(CountRows, transaction: transaction, cancellationToken: token);
        });

        var after = (await CountersAsync())!.Split(' ').Select(long.Parse).ToArray();
        Assert.True(TransactionCommit.IsSingleRoundTrip, "MySql.Data's transaction flag is found (else every commit pays a second round trip)");
        Assert.Equal(2, seen);
        Assert.Equal(3, await dataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(CountRows, cancellationToken: t)));
        Assert.Equal(new[] { before[0] + 1, before[1], 0 }, after);
        Assert.Equal(1, held.Opened);
    }

    [Fact]
    public async Task A_failing_last_statement_rolls_back_the_first_ones_too_and_an_absorbed_duplicate_in_the_first_keeps_the_connection()
    {
        var dataSource = await CreateAsync("held_fused_fail");
        await using var held = dataSource.HoldConnections(capacity: 1);
        await held.InTransactionAsync(Rows(1), (_, _, _, _) => Task.FromResult(true));

        // The last command fails on its second INSERT (a duplicate): its first INSERT, the COMMIT and the rows sent with BEGIN are gone.
        await Assert.ThrowsAnyAsync<Exception>(() => held.InTransactionAsync(Rows(2), (_, _, last, _) =>
        {
            last.Insert("INSERT INTO held_rows (id) VALUES").Row(3).End().Insert("INSERT INTO held_rows (id) VALUES").Row(1).End();
            return Task.FromResult(true);
        }));
        var ran = false;
        var absorbed = await held.InTransactionAsync(Rows(4, 1), (_, _, _, _) => Task.FromResult(ran = true), TransientErrors.IsUniqueViolation);

        Assert.False(absorbed);
        Assert.False(ran);
        Assert.Equal(new[] { 1L }, (await dataSource.WithConnectionAsync((c, t) => c.QueryAsync<long>(AllRows, cancellationToken: t))).ToArray());
        Assert.Equal("0", (await held.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<string>(SessionCounters, cancellationToken: t)))!.Split(' ')[2]);
        Assert.Equal(2, held.Opened);
    }

    [Fact]
    public async Task A_one_command_transaction_commits_its_statements_together_or_rolls_all_of_them_back()
    {
        var dataSource = await CreateAsync("held_one_command");
        await using var held = dataSource.HoldConnections(capacity: 1);
        async Task<long[]> CountersAsync(HeldConnections connections) =>
            (await connections.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<string>(SessionCounters, cancellationToken: t)))!.Split(' ').Select(long.Parse).ToArray();
        var before = await CountersAsync(held);

        var changed = await held.InTransactionAsync(Rows(1, 2, 3).Statement("UPDATE held_rows SET id = 13 WHERE id = 3"));

        Assert.Equal(4, changed);
        Assert.Equal(new[] { before[0] + 1, before[1], 0 }, await CountersAsync(held));
        Assert.Equal(1, held.Opened);

        // Fails on its second statement (a duplicate): its first one's rows are gone, and no transaction stays open.
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            await Assert.ThrowsAnyAsync<Exception>(() => MySqlDataSource.RunTransactionAsync(
                connection, Rows(4, 5).Statement("INSERT INTO held_rows (id) VALUES (1)"), IsolationLevel.Unspecified, CancellationToken.None));
            Assert.Equal("0", (await connection.ExecuteScalarAsync<string>(SessionCounters))!.Split(' ')[2]);
        }

        await Assert.ThrowsAnyAsync<Exception>(() => held.InTransactionAsync(Rows(6).Statement("INSERT INTO held_rows (id) VALUES (2)")));
        Assert.Equal(new[] { 1L, 2L, 13L }, (await dataSource.WithConnectionAsync((c, t) => c.QueryAsync<long>(AllRows, cancellationToken: t))).ToArray());
        Assert.Equal(0, (await CountersAsync(held))[2]);
        Assert.Equal(2, held.Opened);
    }

    private static readonly SqlStatement AllRows = new("rows.all", "SELECT id FROM held_rows ORDER BY id");

    private static SqlBatch Rows(params int[] ids)
    {
        var batch = new SqlBatch("rows.insert_batch").Insert("INSERT INTO held_rows (id) VALUES");
        foreach (var id in ids)
        {
            batch.Row(id);
        }

        return batch.End();
    }

    private static async Task<MySqlDataSource> CreateAsync(string name)
    {
        var servers = await TestServers.SharedAsync();
        var dataSource = new MySqlDataSource(await servers.CreateDatabaseAsync(name), retry: new DataRetryOptions { MaxRetryAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(20) });
        await dataSource.WithConnectionAsync((c, t) => c.ExecuteAsync(CreateRows, cancellationToken: t));
        return dataSource;
    }
}
