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
using MySqlConnector;

namespace Bazaar.IntegrationTests.Order;

/// <summary>Status hints travel over Redis, and only once the move they announce can be read.</summary>
public sealed class OrderStatusHintsTests
{
    [Fact]
    public async Task A_hint_goes_out_only_after_the_transaction_that_moved_the_order_has_ended()
    {
        await using Listener listener = await Listener.StartAsync();
        (ConcurrentQueue<string> heard, OrderStatusHints hints, MySqlDataSource database) = (listener.Heard, listener.Hints, listener.Database);
        Guid orderId = Guid.NewGuid();

        await using (DbConnection connection = await database.OpenConnectionAsync())
        await using (DbTransaction transaction = await connection.BeginTransactionAsync())
        {
            hints.AfterCommit(transaction, orderId, seq: 2);
            // Published after the hint was asked for, over the same connection: a hint sent at once would arrive first.
            await listener.PublishAsync("marker");
            await Poll.UntilAsync(() => Task.FromResult(heard.Contains("marker")), TimeSpan.FromSeconds(10), "the marker arrives");
            Assert.Equal(["marker"], heard);
            await transaction.CommitAsync();
        }

        await Poll.UntilAsync(() => Task.FromResult(heard.Contains($"{orderId:N}:2")), TimeSpan.FromSeconds(10),
            () => $"the hint arrives once the connection is closed; heard: {string.Join(", ", heard)}");
    }

    /// <summary>A subscriber to a fresh hint channel, the hints publishing on it, and a fresh database.</summary>
    private sealed class Listener : IAsyncDisposable
    {
        private ConnectionMultiplexer _redis = null!;
        private ServiceProvider _services = null!;
        private string _channel = "";

        public ConcurrentQueue<string> Heard { get; } = new();

        public OrderStatusHints Hints { get; private set; } = null!;

        public MySqlDataSource Database { get; private set; } = null!;

        public static async Task<Listener> StartAsync()
        {
            TestServers servers = await TestServers.SharedAsync();
            var listener = new Listener { _redis = await ConnectionMultiplexer.ConnectAsync(servers.RedisConnectionString), _channel = TestServers.UniqueName("hints") };
            await listener._redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(listener._channel), (_, message) => listener.Heard.Enqueue(message.ToString()));
            listener._services = new ServiceCollection().AddSingleton<IConnectionMultiplexer>(listener._redis).BuildServiceProvider();
            listener.Hints = new OrderStatusHints(listener._services, Options.Create(new OrderStreamOptions { Channel = listener._channel }), NullLogger<OrderStatusHints>.Instance);
            listener.Database = new MySqlDataSource(await servers.CreateDatabaseAsync("hints"));
            return listener;
        }

        public Task PublishAsync(string message) => _redis.GetSubscriber().PublishAsync(RedisChannel.Literal(_channel), message);

        public async ValueTask DisposeAsync()
        {
            await _services.DisposeAsync();
            _redis.Dispose();
        }
    }
}
