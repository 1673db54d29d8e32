using Bazaar.Testing;
using System.Collections.Concurrent;
using System.Diagnostics;
using Bazaar.Data;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using MySqlConnector;

namespace Bazaar.IntegrationTests.Data;

public sealed class DataSourceTests
{
    private static readonly SqlStatement CreateAccounts = new("accounts.create", "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)");
    private static readonly SqlStatement SeedAccounts = new("accounts.seed", "INSERT INTO accounts (id, balance) VALUES (1, 100), (2, 100)");
    private static readonly SqlStatement Withdraw = new("accounts.withdraw", "UPDATE accounts SET balance = balance - @amount WHERE id = @id");
    private static readonly SqlStatement TotalBalance = new("accounts.total", "SELECT SUM(balance) FROM accounts");

    [Fact]
    public async Task AddMySqlDataSource_registers_a_data_source_and_a_healthy_check_named_after_the_connection()
    {
        var servers = await TestServers.SharedAsync();
        var connectionString = await servers.CreateDatabaseAsync("health");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration["ConnectionStrings:catalogdb"] = connectionString;
        builder.AddMySqlDataSource("catalogdb");
        using var host = builder.Build();

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Healthy, report.Entries["catalogdb"].Status);
        await using var connection = await host.Services.GetRequiredService<MySqlDataSource>().OpenConnectionAsync();
        Assert.Equal(System.Data.ConnectionState.Open, connection.State);
    }

    [Fact]
    public async Task Opens_beyond_the_pool_size_wait_for_a_connection_to_close_and_give_up_as_unavailable_after_the_connect_timeout()
    {
        var servers = await TestServers.SharedAsync();
        await using var dataSource = new MySqlDataSource(await servers.CreateDatabaseAsync("gate") + ";Max Pool Size=2;Connect Timeout=1");
        await using var first = await dataSource.OpenConnectionAsync();
        var second = await dataSource.OpenConnectionAsync();

        var third = dataSource.OpenConnectionAsync().AsTask();
        await Task.Delay(200);
        Assert.False(third.IsCompleted, "a third open waits while both pooled connections are in use");
        await second.DisposeAsync();
        await using (var opened = await third.WaitAsync(TimeSpan.FromSeconds(5)))
        {
            Assert.Equal(System.Data.ConnectionState.Open, opened.State);
            var started = Stopwatch.StartNew();
            var busy = await Assert.ThrowsAsync<MySqlException>(() => dataSource.OpenConnectionAsync().AsTask());
            Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));
            Assert.True(TransientErrors.IsTimeout(busy), busy.Message);
            Assert.True(TransientErrors.IsUnavailable(busy), "an exhausted pool answers 503");
            Assert.False(TransientErrors.IsTransient(busy), "an exhausted pool is not retried: the caller waited its connect timeout already");
        }
    }

    [Fact]
    public async Task A_hundred_opens_at_once_on_a_cold_pool_finish_quickly()
    {
        var servers = await TestServers.SharedAsync();
        await using var dataSource = new MySqlDataSource(await servers.CreateDatabaseAsync("cold"));
        var started = Stopwatch.StartNew();

        var connections = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(async () => await dataSource.OpenConnectionAsync())));
        var elapsed = started.Elapsed;
        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }

        Assert.True(elapsed < TimeSpan.FromSeconds(15), $"100 opens on a cold pool took {elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task A_refused_connection_is_transient_and_unavailable()
    {
        await using var unreachable = new MySqlDataSource($"Server=127.0.0.1;Port={Loopback.FreePort()};Database=none;User ID=root;Max Pool Size=1;Connect Timeout=1");

        for (var attempt = 0; attempt < 3; attempt++)
        {
            var failure = await Assert.ThrowsAnyAsync<Exception>(() => unreachable.OpenConnectionAsync().AsTask());
            Assert.True(TransientErrors.IsTransient(failure), failure.ToString());
            Assert.True(TransientErrors.IsUnavailable(failure), failure.ToString());
        }
    }

    [Fact]
    public async Task A_deadlocked_transaction_is_retried_and_both_transactions_commit()
    {
        var servers = await TestServers.SharedAsync();
        var dataSource = new MySqlDataSource(await servers.CreateDatabaseAsync("deadlock"));
        DataSourceWork.UseRetry(dataSource, new DataRetryOptions { MaxRetryAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(20) });
        await dataSource.WithConnectionAsync(async (c, t) => await c.ExecuteAsync(CreateAccounts, cancellationToken: t) + await c.ExecuteAsync(SeedAccounts, cancellationToken: t));
        var bothHoldTheirFirstRow = new CountdownEvent(2);
        var attempts = 0;

        // Each transaction locks one row and then wants the other's: InnoDB kills one (1213) and the helper runs it again.
        Task Transfer(int first, int second) => dataSource.InTransactionAsync(async (connection, transaction, token) =>
        {
            var attempt = Interlocked.Increment(ref attempts);
            await connection.ExecuteAsync(Withdraw, new { id = first, amount = 10 }, transaction, token);
            if (attempt <= 2)
            {
                bothHoldTheirFirstRow.Signal();
                Assert.True(bothHoldTheirFirstRow.Wait(TimeSpan.FromSeconds(10), token), "both transactions hold their first row");
            }

            await connection.ExecuteAsync(Withdraw, new { id = second, amount = 10 }, transaction, token);
        });

        await Task.WhenAll(Task.Run(() => Transfer(1, 2)), Task.Run(() => Transfer(2, 1)));

        Assert.Equal(3, attempts);
        Assert.Equal(160, await dataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(TotalBalance, cancellationToken: t)));
    }

    [Fact]
    public async Task Statements_that_raise_a_note_or_warning_on_MariaDB_succeed()
    {
        var servers = await TestServers.SharedAsync();
        var dataSource = new MySqlDataSource(await servers.CreateDatabaseAsync("notes"));
        var createIfMissing = new SqlStatement("notes.create", "CREATE TABLE IF NOT EXISTS notes (id INT PRIMARY KEY)");
        var insertIgnore = new SqlStatement("notes.insert_ignore", "INSERT IGNORE INTO notes (id) VALUES (1)");
        var version = new SqlStatement("notes.version", "SELECT @@version");

        var inserted = await dataSource.WithConnectionAsync(async (c, t) =>
            await c.ExecuteAsync(createIfMissing, cancellationToken: t)
            + await c.ExecuteAsync(createIfMissing, cancellationToken: t)
            + await c.ExecuteAsync(insertIgnore, cancellationToken: t)
            + await c.ExecuteAsync(insertIgnore, cancellationToken: t));

        Assert.Equal(1, inserted);
        Assert.Contains("MariaDB", await dataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<string>(version, cancellationToken: t)));
    }

    [Fact]
    public async Task A_command_outside_any_trace_starts_no_span_of_its_own()
    {
        var spans = new ConcurrentBag<Activity>();
        using ActivityListener listener = RecordDataSpans(spans);
        var servers = await TestServers.SharedAsync();
        var dataSource = new MySqlDataSource(await servers.CreateDatabaseAsync("nospan"));
        var statement = new SqlStatement("spans.idle_poll", "SELECT 1");
        Activity.Current = null;

        await dataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<int>(statement, cancellationToken: t));

        Assert.DoesNotContain(spans, s => s.OperationName == "spans.idle_poll");
    }

    [Fact]
    public async Task Every_command_gets_a_span_named_after_its_statement_without_parameter_values()
    {
        var spans = new ConcurrentBag<Activity>();
        using ActivityListener listener = RecordDataSpans(spans);
        var servers = await TestServers.SharedAsync();
        var dataSource = new MySqlDataSource(await servers.CreateDatabaseAsync("spans"));
        var secret = "s3cr3t-" + Guid.NewGuid().ToString("N");
        var statement = new SqlStatement("spans.select_secret", "SELECT @secret");

        string? echoed;
        using (var request = new Activity("a request").Start())
        {
            echoed = await dataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<string>(statement, new { secret }, cancellationToken: t));
        }

        Assert.Equal(secret, echoed);
        var span = Assert.Single(spans, s => s.OperationName == "spans.select_secret");
        Assert.NotEqual(default, span.ParentSpanId);
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal(dataSource.DatabaseName(), span.GetTagItem("db.namespace"));
        Assert.DoesNotContain(span.TagObjects, tag => tag.Value?.ToString()?.Contains(secret, StringComparison.Ordinal) == true);
    }

    private static ActivityListener RecordDataSpans(ConcurrentBag<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == DataTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
