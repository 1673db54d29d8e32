using MySqlConnector;

namespace Bazaar.Data;

/// <summary>
/// How long a request may wait for the database before it answers 503. MySqlConnector's own defaults (connect 15 s,
/// command 30 s) would hold a request for 30 s and more on a database that stopped answering (a hung server, a
/// partition): the connection accepts the bytes and nothing comes back. With these, an open gives up after
/// <see cref="ConnectTimeoutSeconds"/> (also the longest wait for a free connection of an exhausted pool), a command after
/// <see cref="CommandTimeoutSeconds"/>, and its cancellation (MySqlConnector's <c>KILL QUERY</c>) after
/// <see cref="CancellationTimeoutSeconds"/> more, when the socket is closed: under 10 s in all. A connection string that
/// names any of them keeps its own value.
/// </summary>
public static class Deadlines
{
    public const int ConnectTimeoutSeconds = 5;

    public const int CommandTimeoutSeconds = 5;

    public const int CancellationTimeoutSeconds = 2;

    /// <summary>The connection string with the deadlines it does not name.</summary>
    public static string Apply(string connectionString)
    {
        var builder = new MySqlConnectionStringBuilder(connectionString);
        if (!builder.ContainsKey("Connect Timeout"))
        {
            builder.ConnectionTimeout = ConnectTimeoutSeconds;
        }

        if (!builder.ContainsKey("Default Command Timeout"))
        {
            builder.DefaultCommandTimeout = CommandTimeoutSeconds;
        }

        if (!builder.ContainsKey("Cancellation Timeout"))
        {
            builder.CancellationTimeout = CancellationTimeoutSeconds;
        }

        return builder.ConnectionString;
    }
}
