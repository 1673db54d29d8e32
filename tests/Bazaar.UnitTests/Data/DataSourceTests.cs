using System.Net.Sockets;
using Bazaar.Data;
using MySqlConnector;

namespace Bazaar.UnitTests.Data;

public sealed class DataSourceTests
{
    [Fact]
    public void A_connection_string_without_deadlines_gets_ours_and_one_with_its_own_keeps_them()
    {
        var defaulted = new MySqlConnectionStringBuilder(Deadlines.Apply("Server=127.0.0.1;Database=a"));
        Assert.Equal((uint)Deadlines.ConnectTimeoutSeconds, defaulted.ConnectionTimeout);
        Assert.Equal((uint)Deadlines.CommandTimeoutSeconds, defaulted.DefaultCommandTimeout);
        Assert.Equal(Deadlines.CancellationTimeoutSeconds, defaulted.CancellationTimeout);

        var own = new MySqlConnectionStringBuilder(Deadlines.Apply("Server=127.0.0.1;Database=a;Connect Timeout=1;Default Command Timeout=60;CancellationTimeout=0"));
        Assert.Equal(1u, own.ConnectionTimeout);
        Assert.Equal(60u, own.DefaultCommandTimeout);
        Assert.Equal(0, own.CancellationTimeout);
    }

    [Fact]
    public void The_data_source_names_its_database()
    {
        using var dataSource = new MySqlDataSource("Server=127.0.0.1;Database=orders");
        Assert.Equal("orders", dataSource.DatabaseName());
    }

    [Theory]
    [InlineData(1213, true)]
    [InlineData(1205, true)]
    [InlineData(2006, true)]
    [InlineData(2013, true)]
    [InlineData(1062, false)]
    [InlineData(1146, false)]
    public void Deadlocks_lock_waits_and_lost_connections_are_transient_and_other_errors_are_not(int number, bool transient) =>
        Assert.Equal(transient, TransientErrors.IsTransientErrorNumber(number));

    [Fact]
    public void A_socket_failure_anywhere_in_the_chain_is_transient()
    {
        Assert.True(TransientErrors.IsTransient(new InvalidOperationException("wrapped", new IOException("reset", new SocketException()))));
        Assert.False(TransientErrors.IsTransient(new InvalidOperationException("bug")));
    }

    [Fact]
    public async Task Work_that_fails_for_a_non_transient_reason_runs_once()
    {
        using var dataSource = new MySqlDataSource("Server=127.0.0.1;Database=a");
        DataSourceWork.UseRetry(dataSource, new DataRetryOptions { BaseDelay = TimeSpan.FromMilliseconds(1) });
        var runs = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => dataSource.WithRetryAsync<int>(_ =>
        {
            runs++;
            throw new InvalidOperationException("bug");
        }));
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task Work_that_fails_transiently_is_retried_until_it_succeeds()
    {
        using var dataSource = new MySqlDataSource("Server=127.0.0.1;Database=a");
        DataSourceWork.UseRetry(dataSource, new DataRetryOptions { MaxRetryAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(1) });
        var runs = 0;
        var result = await dataSource.WithRetryAsync(_ => ++runs < 3 ? throw new IOException("connection reset") : Task.FromResult(runs));
        Assert.Equal(3, result);
    }
}
