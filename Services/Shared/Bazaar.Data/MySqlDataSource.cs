using System.Data.Common;
using System.Diagnostics;
using System.Net;
using MySql.Data.MySqlClient;

namespace Bazaar.Data;

/// <summary>
/// One per database: owns the connection string and hands out open connections.
/// The only type that knows the MySQL driver, so the driver can be swapped without touching callers.
/// </summary>
public sealed class MySqlDataSource
{
    private static readonly string[] SslModeKeys = ["sslmode", "ssl mode", "ssl-mode"];

    public MySqlDataSource(string connectionString, string? name = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ConnectionString = Normalize(connectionString);
        var parsed = new MySqlConnectionStringBuilder(ConnectionString);
        DatabaseName = parsed.Database;
        Server = parsed.Server;
        Port = parsed.Port;
        Name = name ?? DatabaseName;
    }

    /// <summary>The logical name (the connection string's name in configuration).</summary>
    public string Name { get; }

    public string ConnectionString { get; }

    public string DatabaseName { get; }

    internal string Server { get; }

    internal uint Port { get; }

    /// <summary>A new connection, not yet open. Prefer <see cref="OpenConnectionAsync"/>.</summary>
    public DbConnection CreateConnection() => new MySqlConnection(ConnectionString);

    public async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        var connection = new MySqlConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The same server without a default database: for creating the database itself.</summary>
    internal MySqlDataSource WithoutDatabase()
    {
        var builder = new MySqlConnectionStringBuilder(ConnectionString) { Database = string.Empty };
        return new MySqlDataSource(builder.ConnectionString, Name);
    }

    internal void Tag(Activity activity)
    {
        activity.SetTag("db.system.name", "mysql");
        activity.SetTag("db.namespace", DatabaseName);
        activity.SetTag("server.address", Server);
        activity.SetTag("server.port", (int)Port);
    }

    // The loopback servers here speak no TLS; MySql.Data defaults to Preferred and then fails on them.
    internal static string Normalize(string connectionString)
    {
        var generic = new DbConnectionStringBuilder { ConnectionString = connectionString };
        if (SslModeKeys.Any(generic.ContainsKey))
        {
            return connectionString;
        }

        var builder = new MySqlConnectionStringBuilder(connectionString);
        if (IsLoopback(builder.Server))
        {
            builder.SslMode = MySqlSslMode.None;
        }

        return builder.ConnectionString;
    }

    private static bool IsLoopback(string? server) =>
        string.IsNullOrEmpty(server)
        || server.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(server, out var address) && IPAddress.IsLoopback(address));
}
