using Bazaar.Data;
using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;

namespace Bazaar.IntegrationTests.Messaging;

/// <summary>The relay and the consumer keep their MySQL connections open between transactions; losing them loses nothing.</summary>
public sealed class HeldConnectionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static readonly SqlStatement OtherConnections = new("processlist.others", """
        SELECT ID FROM information_schema.PROCESSLIST WHERE DB = @database AND ID <> CONNECTION_ID()
        """);

    private static readonly SqlStatement Kill = new("connection.kill", "KILL CONNECTION @id");

    [Fact]
    public async Task Events_flow_exactly_once_after_the_server_kills_the_connections_the_relay_and_the_consumer_hold()
    {
        await using var scenario = await MessagingScenario.CreateAsync("heldkill");
        var host = await scenario.StartHostAsync(m => m.AddOutbox().AddConsumer<ItemAdded, RecordingHandler>());
        var outbox = host.Services.GetRequiredService<IOutbox>();
        for (var i = 0; i < 50; i++)
        {
            await scenario.CommitStateChangeAsync(outbox, $"sku-before-{i}");
        }

        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() == 50, Timeout, "the first 50 effects are committed");
        Assert.True(await KillOtherConnectionsAsync(scenario.DataSource) >= 2, "the relay and the consumer each hold a connection to kill");

        for (var i = 0; i < 50; i++)
        {
            await scenario.CommitStateChangeAsync(outbox, $"sku-after-{i}");
        }

        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() >= 100, Timeout, "the 50 events committed after the kill are handled too");
        await Eventually.HoldsAsync(async () => await scenario.CountPendingOutboxRowsAsync() == 0, Timeout, "every outbox row is marked sent");
        Assert.Equal(100, await scenario.CountEffectsAsync());
        Assert.Equal(100, await scenario.CountDistinctEffectsAsync());
    }

    private static Task<int> KillOtherConnectionsAsync(MySqlDataSource dataSource) =>
        dataSource.WithConnectionAsync(async (connection, token) =>
        {
            var ids = await connection.QueryAsync<long>(OtherConnections, new { database = dataSource.DatabaseName() }, cancellationToken: token);
            var killed = 0;
            foreach (var id in ids)
            {
                try
                {
                    await connection.ExecuteAsync(Kill, new { id }, cancellationToken: token);
                    killed++;
                }
                catch (Exception exception) when (exception.Message.Contains("Unknown thread id", StringComparison.OrdinalIgnoreCase))
                {
                    // It ended between the listing and the kill (a pooled open's connection, say).
                }
            }

            return killed;
        });
}
