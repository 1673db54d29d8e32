using Bazaar.Testing;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Bazaar.Data;
using Bazaar.Data.Migrations;
using Bazaar.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MySqlConnector;

namespace Bazaar.IntegrationTests.Messaging;

/// <summary>The event the messaging tests publish: adding an item, whose effect is a row in <c>effects</c>.</summary>
public sealed record ItemAdded(string Sku) : IIntegrationEvent
{
    public static string EventType => "test.item-added";
}

/// <summary>What the handler saw, and how it should behave; one per host.</summary>
public sealed class HandlerProbe
{
    public Func<ItemAdded, EventContext, bool> ShouldFail { get; set; } = (_, _) => false;

    public ConcurrentQueue<HandlerCall> Calls { get; } = new();

    /// <summary>Append the effect to <see cref="EventContext.Writes"/> (sent once for the whole transaction) instead of writing it at once.</summary>
    public bool DeferWrites { get; set; }

    /// <summary>With <see cref="DeferWrites"/>: the effect of this sku is written with a NULL sku, so the deferred statement itself fails.</summary>
    public string? BrokenWriteSku { get; set; }

    /// <summary>Runs before the handler writes; lets a test hold a handler in flight.</summary>
    public Func<CancellationToken, Task> BeforeWrite { get; set; } = _ => Task.CompletedTask;

    public sealed record HandlerCall(Guid EventId, int Attempt, long Timestamp, ActivityTraceId? TraceId, ActivitySpanId? ParentSpanId);
}

/// <summary>Writes the effect in the handler's transaction, then fails when told to (so a failure also proves the rollback).</summary>
public sealed class RecordingHandler(HandlerProbe probe) : IIntegrationEventHandler<ItemAdded>
{
    private static readonly SqlStatement InsertEffect = new("effects.insert", "INSERT INTO effects (event_id, sku, attempt) VALUES (@eventId, @sku, @attempt)");

    public async Task HandleAsync(ItemAdded @event, EventContext context, CancellationToken cancellationToken)
    {
        probe.Calls.Enqueue(new HandlerProbe.HandlerCall(context.Envelope.Id, context.Attempt, Stopwatch.GetTimestamp(), Activity.Current?.TraceId, Activity.Current?.ParentSpanId));
        await probe.BeforeWrite(cancellationToken);
        if (probe.DeferWrites)
        {
            context.Writes.Insert("INSERT INTO effects (event_id, sku, attempt) VALUES")
                .Row(context.Envelope.Id.ToString(), @event.Sku == probe.BrokenWriteSku ? null : @event.Sku, context.Attempt)
                .End();
            return;
        }

        await context.Connection.ExecuteAsync(InsertEffect, new { eventId = context.Envelope.Id.ToString(), sku = @event.Sku, attempt = context.Attempt }, context.Transaction, cancellationToken);
        if (probe.ShouldFail(@event, context))
        {
            throw new InvalidOperationException($"Handler told to fail on attempt {context.Attempt}");
        }
    }
}

/// <summary>A database and a broker namespace of a test's own, and hosts that publish and consume through them.</summary>
public sealed class MessagingScenario : IAsyncDisposable
{
    public const string Database = "db";

    internal static readonly Migration[] EffectsMigrations =
    [
        new(1, "0001_effects.sql", """
            CREATE TABLE effects (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                event_id VARCHAR(64) NOT NULL,
                sku VARCHAR(100) NOT NULL,
                attempt INT NOT NULL
            );
            CREATE TABLE state_changes (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                sku VARCHAR(100) NOT NULL
            );
            """),
    ];

    private static readonly SqlStatement CountEffects = new("effects.count", "SELECT COUNT(*) FROM effects");
    private static readonly SqlStatement CountDistinctEffects = new("effects.count_distinct", "SELECT COUNT(DISTINCT event_id) FROM effects");
    private static readonly SqlStatement CountPending = new("outbox.count_pending", "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL");
    private static readonly SqlStatement InsertStateChange = new("state_changes.insert", "INSERT INTO state_changes (sku) VALUES (@sku)");

    private readonly List<IHost> _hosts = [];

    private MessagingScenario(string databaseConnectionString, string rabbitMqConnectionString, string prefix)
    {
        DatabaseConnectionString = databaseConnectionString;
        RabbitMqConnectionString = rabbitMqConnectionString;
        Prefix = prefix;
        DataSource = new MySqlDataSource(databaseConnectionString);
    }

    public string DatabaseConnectionString { get; }

    public string RabbitMqConnectionString { get; }

    public string Prefix { get; }

    public MySqlDataSource DataSource { get; }

    public static async Task<MessagingScenario> CreateAsync(string name, string? rabbitMqConnectionString = null, CancellationToken cancellationToken = default)
    {
        var servers = await TestServers.SharedAsync(cancellationToken);
        var database = await servers.CreateDatabaseAsync(name, cancellationToken);
        return new MessagingScenario(database, rabbitMqConnectionString ?? servers.RabbitMqConnectionString, TestServers.UniqueName(name) + ".");
    }

    /// <summary>
    /// Builds and starts a host with the data source, the broker connection and messaging (short retry delays);
    /// <paramref name="messaging"/> adds the outbox and/or consumers.
    /// </summary>
    public async Task<IHost> StartHostAsync(
        Action<MessagingBuilder> messaging,
        Action<MessagingOptions>? options = null,
        HandlerProbe? probe = null,
        CancellationToken cancellationToken = default)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{Database}"] = DatabaseConnectionString,
            ["ConnectionStrings:messaging"] = RabbitMqConnectionString,
        });
        builder.AddMySqlDataSource(Database);
        builder.AddRabbitMQClient("messaging", configureConnectionFactory: factory => factory.NetworkRecoveryInterval = TimeSpan.FromMilliseconds(500));
        var messagingBuilder = builder.AddMessaging(Database, o =>
        {
            o.Prefix = Prefix;
            o.ServiceName = "consumer";
            o.RetryDelays = [TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(600)];
            o.RelayPollInterval = TimeSpan.FromMilliseconds(50);
            o.RelayMaxBackoff = TimeSpan.FromMilliseconds(500);
            o.UnroutableRetryDelay = TimeSpan.FromMilliseconds(200);
            options?.Invoke(o);
        });
        builder.AddMigrations(Database, "Tests", EffectsMigrations);
        builder.Services.AddSingleton(probe ?? new HandlerProbe());
        messaging(messagingBuilder);
        var host = builder.Build();
        _hosts.Add(host);
        await host.StartAsync(cancellationToken);
        if (host.Services.GetService<EventConsumerHost>() is { } consumer)
        {
            await consumer.Ready.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        }

        return host;
    }

    /// <summary>Commits a state change and its event together, the way a service does.</summary>
    public async Task<EventEnvelope> CommitStateChangeAsync(IOutbox outbox, string sku, CancellationToken cancellationToken = default) =>
        await DataSource.InTransactionAsync(async (connection, transaction, token) =>
        {
            await connection.ExecuteAsync(InsertStateChange, new { sku }, transaction, token);
            return await outbox.AddAsync(transaction, new ItemAdded(sku), cancellationToken: token);
        }, cancellationToken);

    public Task<long> CountEffectsAsync(CancellationToken cancellationToken = default) => ScalarAsync(CountEffects, cancellationToken);

    public Task<long> CountDistinctEffectsAsync(CancellationToken cancellationToken = default) => ScalarAsync(CountDistinctEffects, cancellationToken);

    public Task<long> CountPendingOutboxRowsAsync(CancellationToken cancellationToken = default) => ScalarAsync(CountPending, cancellationToken);

    private Task<long> ScalarAsync(SqlStatement statement, CancellationToken cancellationToken) =>
        DataSource.WithConnectionAsync(async (connection, token) => await connection.ExecuteScalarAsync<long>(statement, cancellationToken: token), cancellationToken);

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await host.StopAsync(timeout.Token);
            host.Dispose();
        }
    }
}

/// <summary>Waits for a condition by polling it until a deadline; never a fixed sleep.</summary>
public static class Eventually
{
    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:F0} s waiting until {what}.");
            }

            await Task.Delay(25);
        }
    }
}

/// <summary>Listens to one counter of the Bazaar.Messaging meter, filtered by destination (queue or exchange).</summary>
public sealed class CounterProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _totals = new();

    public CounterProbe(string instrument, string destination)
    {
        _listener.InstrumentPublished = (i, listener) =>
        {
            if (i.Meter.Name == MessagingTelemetry.Name && i.Name == instrument)
            {
                listener.EnableMeasurementEvents(i);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? target = null;
            var duplicate = false;
            foreach (var tag in tags)
            {
                if (tag.Key == "messaging.destination.name")
                {
                    target = tag.Value as string;
                }
                else if (tag.Key == "bazaar.messaging.duplicate")
                {
                    duplicate = tag.Value is true;
                }
            }

            if (target == destination)
            {
                _totals.AddOrUpdate(duplicate ? "duplicate" : "total", value, (_, sum) => sum + value);
                if (duplicate)
                {
                    _totals.AddOrUpdate("total", value, (_, sum) => sum + value);
                }
            }
        });
        _listener.Start();
    }

    public long Total => _totals.GetValueOrDefault("total");

    public long Duplicates => _totals.GetValueOrDefault("duplicate");

    public void Dispose() => _listener.Dispose();
}
