using System.Data;
using Bazaar.Data;
using Bazaar.Testing;

namespace Bazaar.IntegrationTests.Data;

public sealed class TransactionStartTests
{
    private static readonly SqlStatement State = new("transaction.state", "SELECT CONCAT(@@tx_isolation, ' ', @@in_transaction)");

    [Fact]
    public async Task A_transaction_begins_in_one_command_at_the_isolation_level_asked_for_even_on_a_connection_held_from_another_level()
    {
        var servers = await TestServers.SharedAsync();
        var dataSource = new MySqlDataSource(await servers.CreateDatabaseAsync("txstart"));
        await using var held = dataSource.HoldConnections(capacity: 1);
        Task<string?> StateAsync(IsolationLevel level) => held.InTransactionAsync(
            (connection, transaction, token) => connection.ExecuteScalarAsync<string>(State, transaction: transaction, cancellationToken: token), isolationLevel: level);

        Assert.True(TransactionStart.IsSingleRoundTrip, "MySql.Data's transaction constructor is found (else every transaction pays a second round trip)");
        Assert.Equal("READ-COMMITTED 1", await StateAsync(IsolationLevel.ReadCommitted));
        Assert.Equal("REPEATABLE-READ 1", await StateAsync(IsolationLevel.Unspecified));
        Assert.Equal("SERIALIZABLE 1", await StateAsync(IsolationLevel.Serializable));
        Assert.Equal(1, held.Opened);
    }
}
