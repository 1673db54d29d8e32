using System.Collections.Concurrent;
using System.Data.Common;
using Bazaar.Data;
using Bazaar.Order.Api.Ordering;
using Bazaar.Order.Api.Streaming;
using Bazaar.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Bazaar.IntegrationTests.Order;

/// <summary>Status hints travel over Redis, and only once the move they announce can be read.</summary>
public sealed class OrderStatusHintsTests
{
    [Fact]
    public async Task A_hint_goes_out_only_after_the_transaction_that_moved_the_order_has_ended()
    {
        TestServers servers = await TestServers.SharedAsync();
        using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(servers.RedisConnectionString);
        string channel = TestServers.UniqueName("hints");
        var heard = new ConcurrentQueue<string>();
        ISubscriber subscriber = redis.GetSubscriber();
        await subscriber.SubscribeAsync(channel, (_, message) => heard.Enqueue(message.ToString()));
        await using ServiceProvider services = new ServiceCollection().AddSingleton<IConnectionMultiplexer>(redis).BuildServiceProvider();
        var hints = new OrderStatusHints(services, Options.Create(new OrderStreamOptions { Channel = channel }), NullLogger<OrderStatusHints>.Instance);
        var database = new MySqlDataSource(await servers.CreateDatabaseAsync("hints"));
        Guid orderId = Guid.NewGuid();

        await using (DbConnection connection = await database.OpenConnectionAsync())
        await using (DbTransaction transaction = await connection.BeginTransactionAsync())
        {
            hints.AfterCommit(transaction, orderId, seq: 2);
            // Published after the hint was asked for, over the same connection: a hint sent at once would arrive first.
            await subscriber.PublishAsync(channel, "marker");
            await Poll.UntilAsync(() => Task.FromResult(heard.Contains("marker")), TimeSpan.FromSeconds(10), "the marker arrives");
            Assert.Equal(["marker"], heard);
            await transaction.CommitAsync();
        }

        await Poll.UntilAsync(() => Task.FromResult(heard.Contains($"{orderId:N}:2")), TimeSpan.FromSeconds(10),
            () => $"the hint arrives once the connection is closed; heard: {string.Join(", ", heard)}");
    }
}
