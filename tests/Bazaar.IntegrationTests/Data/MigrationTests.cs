using Bazaar.Testing;
using Bazaar.Data;
using Bazaar.Data.Migrations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using MySqlConnector;

namespace Bazaar.IntegrationTests.Data;

public sealed class MigrationTests
{
    // Not idempotent on purpose: applied twice, the CREATE fails and the INSERT doubles.
    private static readonly Migration[] Catalog =
    [
        new(1, "0001_create_products.sql", "CREATE TABLE products (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL);"),
        new(2, "0002_seed_products.sql", "INSERT INTO products (id, name) VALUES (1, 'kettle'), (2, 'teapot');\nALTER TABLE products ADD COLUMN price INT NULL;"),
    ];

    private static readonly SqlStatement CountProducts = new("products.count", "SELECT COUNT(*) FROM products");
    private static readonly SqlStatement CountHistory = new("migrations.count", "SELECT COUNT(*) FROM __bazaar_migrations WHERE scope = 'Catalog'");

    [Fact]
    public async Task Migrations_are_applied_once_when_two_processes_start_together()
    {
        var servers = await TestServers.SharedAsync();
        var connectionString = await servers.CreateDatabaseAsync("migrate");
        using var first = BuildHost(connectionString, Catalog);
        using var second = BuildHost(connectionString, Catalog);

        await Task.WhenAll(Task.Run(() => first.StartAsync()), Task.Run(() => second.StartAsync()));

        var dataSource = new MySqlDataSource(connectionString);
        Assert.Equal(2, await dataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(CountProducts, cancellationToken: t)));
        Assert.Equal(2, await dataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(CountHistory, cancellationToken: t)));
        await first.StopAsync();
        await second.StopAsync();
    }

    [Fact]
    public async Task A_changed_applied_migration_stops_the_start_with_a_clear_message()
    {
        var servers = await TestServers.SharedAsync();
        var connectionString = await servers.CreateDatabaseAsync("drift");
        using (var original = BuildHost(connectionString, Catalog))
        {
            await original.StartAsync();
            await original.StopAsync();
        }

        Migration[] edited = [Catalog[0], Catalog[1] with { Sql = Catalog[1].Sql.Replace("teapot", "teacup", StringComparison.Ordinal) }];
        using var changed = BuildHost(connectionString, edited);

        var failure = await Assert.ThrowsAsync<MigrationChecksumMismatchException>(() => changed.StartAsync());
        Assert.Contains("0002_seed_products.sql", failure.Message);
        Assert.Contains("was changed after it was applied", failure.Message);
        Assert.Contains("Refusing to start", failure.Message);
    }

    [Fact]
    public async Task The_migration_runner_creates_a_missing_database()
    {
        var servers = await TestServers.SharedAsync();
        var missing = TestServers.UniqueName("created");
        var connectionString = new MySqlConnectionStringBuilder(servers.MySqlConnectionString) { Database = missing }.ConnectionString;
        using var host = BuildHost(connectionString, Catalog);

        await host.StartAsync();

        var dataSource = new MySqlDataSource(connectionString);
        Assert.Equal(2, await dataSource.WithConnectionAsync((c, t) => c.ExecuteScalarAsync<long>(CountProducts, cancellationToken: t)));
        await host.StopAsync();
    }

    private static IHost BuildHost(string connectionString, IReadOnlyList<Migration> migrations)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration["ConnectionStrings:catalogdb"] = connectionString;
        builder.AddMySqlDataSource("catalogdb");
        builder.AddMigrations("catalogdb", "Catalog", migrations);
        return builder.Build();
    }
}
