using System.Net.Sockets;
using Bazaar.Data;
using MySql.Data.MySqlClient;

namespace Bazaar.UnitTests.Data;

public sealed class DataSourceTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    [InlineData("::1")]
    public void A_loopback_connection_string_without_SslMode_gets_SslMode_None(string server)
    {
        var dataSource = new MySqlDataSource($"Server={server};Port=3307;User ID=root;Password=pw;Database=catalogdb");
        Assert.Equal(MySqlSslMode.None, new MySqlConnectionStringBuilder(dataSource.ConnectionString).SslMode);
        Assert.Equal("catalogdb", dataSource.DatabaseName);
    }

    [Fact]
    public void An_explicit_SslMode_is_kept()
    {
        var dataSource = new MySqlDataSource("Server=127.0.0.1;Database=a;SslMode=Required");
        Assert.Equal(MySqlSslMode.Required, new MySqlConnectionStringBuilder(dataSource.ConnectionString).SslMode);
    }

    [Fact]
    public void A_remote_server_keeps_the_driver_default()
    {
        var dataSource = new MySqlDataSource("Server=db.example.com;Database=a");
        Assert.NotEqual(MySqlSslMode.None, new MySqlConnectionStringBuilder(dataSource.ConnectionString).SslMode);
    }

    [Fact]
    public void The_name_defaults_to_the_database()
    {
        Assert.Equal("orders", new MySqlDataSource("Server=127.0.0.1;Database=orders").Name);
        Assert.Equal("orderdb", new MySqlDataSource("Server=127.0.0.1;Database=orders", "orderdb").Name);
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
        var dataSource = new MySqlDataSource("Server=127.0.0.1;Database=a", retry: new DataRetryOptions { BaseDelay = TimeSpan.FromMilliseconds(1) });
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
        var dataSource = new MySqlDataSource("Server=127.0.0.1;Database=a", retry: new DataRetryOptions { MaxRetryAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(1) });
        var runs = 0;
        var result = await dataSource.WithRetryAsync(_ => ++runs < 3 ? throw new IOException("connection reset") : Task.FromResult(runs));
        Assert.Equal(3, result);
    }
}
