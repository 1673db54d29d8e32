using System.Globalization;
using System.Net.Sockets;
using Aspire.Hosting.ApplicationModel;
using Bazaar.Hosting.Lifecycle;
using Bazaar.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MySqlConnector;
using RabbitMQ.Client;
using StackExchange.Redis;

namespace Bazaar.IntegrationTests.Platform;

/// <summary>Each backing server, started by Aspire (DCP) as a local process, answers its own protocol and stops without leftovers.</summary>
public sealed class BackingServerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Redis_starts_answers_with_its_generated_password_and_stops_leaving_no_process()
    {
        CancellationToken ct = TestContext();
        await using TestServers servers = await TestServers.StartDedicatedAsync(redis: true, rabbitMq: false, mySql: false, ct);

        using (ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(servers.RedisConnectionString))
        {
            IDatabase db = redis.GetDatabase();
            string key = TestServers.UniqueName("platform");
            await db.StringSetAsync(key, "hello");
            Assert.Equal("hello", (string?)await db.StringGetAsync(key));
        }

        await AssertStopsCleanlyAsync(servers, TestServers.Redis, ct);
    }

    [Fact]
    public async Task RabbitMQ_starts_accepts_an_AMQP_connection_and_stops_leaving_no_process()
    {
        CancellationToken ct = TestContext();
        await using TestServers servers = await TestServers.StartDedicatedAsync(redis: false, rabbitMq: true, mySql: false, ct);

        var factory = new ConnectionFactory { Uri = new Uri(servers.RabbitMqConnectionString) };
        await using (IConnection connection = await factory.CreateConnectionAsync(ct))
        await using (IChannel channel = await connection.CreateChannelAsync(cancellationToken: ct))
        {
            string queue = TestServers.UniqueName("platform");
            QueueDeclareOk declared = await channel.QueueDeclareAsync(queue, durable: false, exclusive: true, autoDelete: true, cancellationToken: ct);
            Assert.Equal(queue, declared.QueueName);
        }

        await AssertStopsCleanlyAsync(servers, TestServers.RabbitMq, ct);
    }

    [Fact]
    public async Task MySql_starts_creates_a_database_answers_SELECT_1_and_stops_leaving_no_process()
    {
        CancellationToken ct = TestContext();
        await using TestServers servers = await TestServers.StartDedicatedAsync(redis: false, rabbitMq: false, mySql: true, ct);

        string connectionString = await servers.CreateDatabaseAsync("platform", ct);
        Assert.Contains(";Database=platform_", connectionString, StringComparison.Ordinal);
        Assert.Contains(";SslMode=None", connectionString, StringComparison.Ordinal);
        await using (var connection = new MySqlConnection(connectionString))
        {
            await connection.OpenAsync(ct);
            await using var command = new MySqlCommand("SELECT 1", connection);
            Assert.Equal(1L, Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture));
        }

        await AssertStopsCleanlyAsync(servers, TestServers.MySql, ct);
    }

    [Fact]
    public async Task A_stopped_server_starts_again_on_the_same_port_with_the_same_credentials()
    {
        CancellationToken ct = TestContext();
        await using TestServers servers = await TestServers.StartDedicatedAsync(redis: true, rabbitMq: false, mySql: false, ct);
        string before = servers.RedisConnectionString;
        string key = TestServers.UniqueName("restart");
        using (ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(before))
        {
            await redis.GetDatabase().StringSetAsync(key, "kept");
        }

        await servers.StopServerAsync(TestServers.Redis, ct);
        await servers.StartServerAsync(TestServers.Redis, ct);

        Assert.Equal(before, servers.RedisConnectionString);
        using ConnectionMultiplexer again = await ConnectionMultiplexer.ConnectAsync(servers.RedisConnectionString);
        Assert.Equal("kept", (string?)await again.GetDatabase().StringGetAsync(key));
    }

    [Fact]
    public async Task A_server_that_crashes_is_started_again_and_one_stopped_by_a_person_stays_stopped()
    {
        CancellationToken ct = TestContext();
        await using TestServers servers = await TestServers.StartDedicatedAsync(redis: true, rabbitMq: false, mySql: false, ct);
        ResourceNotificationService notifications = servers.Application.ResourceNotifications;
        Assert.True(notifications.TryGetCurrentState(TestServers.Redis, out ResourceEvent? running));
        int crashed = Pid(running);

        System.Diagnostics.Process.GetProcessById(crashed).Kill();

        ResourceEvent again = await notifications.WaitForResourceAsync(
            TestServers.Redis, e => e.Snapshot.State?.Text == KnownResourceStates.Running && Pid(e) != crashed, ct);
        await notifications.WaitForResourceHealthyAsync(TestServers.Redis, ct);
        Assert.Equal(1, servers.Application.Services.GetRequiredService<CrashRestart>().RestartsOf(again.ResourceId));
        using (ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(servers.RedisConnectionString))
        {
            Assert.True((await redis.GetDatabase().PingAsync()) < TimeSpan.FromSeconds(5));
        }

        await servers.StopServerAsync(TestServers.Redis, ct);
        await notifications.WaitForResourceAsync(TestServers.Redis, e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), ct);
        // Longer than the back-off before a first restart (1 s): a stop a person asked for is not a crash.
        await Task.Delay(TimeSpan.FromSeconds(4), ct);

        Assert.True(notifications.TryGetCurrentState(TestServers.Redis, out ResourceEvent? stopped));
        Assert.Contains(stopped.Snapshot.State?.Text, KnownResourceStates.TerminalStates);
        Assert.Equal(1, servers.Application.Services.GetRequiredService<CrashRestart>().RestartsOf(stopped.ResourceId));
    }

    [Fact]
    public async Task The_shared_servers_give_each_test_a_database_of_its_own()
    {
        CancellationToken ct = TestContext();
        TestServers shared = await TestServers.SharedAsync(ct);

        string first = await shared.CreateDatabaseAsync("shared", ct);
        string second = await shared.CreateDatabaseAsync("shared", ct);

        Assert.NotEqual(first, second);
        Assert.StartsWith("127.0.0.1:", shared.RedisConnectionString, StringComparison.Ordinal);
        Assert.StartsWith("amqp://", shared.RabbitMqConnectionString, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => shared.StopServerAsync(TestServers.Redis, ct));
    }

    private static async Task AssertStopsCleanlyAsync(TestServers servers, string name, CancellationToken ct)
    {
        Assert.True(servers.Application.ResourceNotifications.TryGetCurrentState(name, out ResourceEvent? running));
        Assert.Equal(HealthStatus.Healthy, running.Snapshot.HealthStatus);
        int pid = Pid(running);
        int port = int.Parse(running.Snapshot.Urls.Single().Url.Split(':')[^1], CultureInfo.InvariantCulture);

        await servers.StopServerAsync(name, ct);

        ResourceEvent stopped = await servers.Application.ResourceNotifications.WaitForResourceAsync(
            name, e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), ct);
        Assert.Contains(stopped.Snapshot.State?.Text, KnownResourceStates.TerminalStates);
        Assert.False(Directory.Exists($"/proc/{pid}"), $"{name}'s process {pid} is still there after stop.");
        using var client = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => client.ConnectAsync("127.0.0.1", port, ct).AsTask());
    }

    private static int Pid(ResourceEvent resource) =>
        Convert.ToInt32(resource.Snapshot.Properties.Single(p => p.Name == "executable.pid").Value, CultureInfo.InvariantCulture);

    private static CancellationToken TestContext() => new CancellationTokenSource(Deadline * 3).Token;
}
