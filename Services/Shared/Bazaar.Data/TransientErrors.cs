using System.Net.Sockets;
using MySqlConnector;

namespace Bazaar.Data;

/// <summary>
/// Which database failures are worth retrying (a second attempt of the same work can get past them), and which mean
/// the database is unavailable for now (the request answers 503 with Retry-After).
/// </summary>
public static class TransientErrors
{
    /// <summary>
    /// A deadlock, a lock wait timeout, a lost or refused connection: worth another attempt. Not a timeout of our own
    /// (<see cref="IsTimeout"/>): that attempt already waited as long as a request may, and the next would wait as long.
    /// </summary>
    public static bool IsTransient(Exception exception)
    {
        if (IsTimeout(exception))
        {
            return false;
        }

        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case MySqlException mySql when mySql.IsTransient || IsTransientErrorNumber(mySql.Number):
                case IOException:
                case SocketException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>True when the database is out of reach, overloaded or not answering: a 503, not a 500.</summary>
    public static bool IsUnavailable(Exception exception) => IsTimeout(exception) || IsTransient(exception);

    /// <summary>
    /// A command that ran out of its command timeout, or an open that ran out of its connect timeout (MySqlConnector
    /// reports a pool whose every connection stayed in use that long the same way: "Connect Timeout expired. All pooled
    /// connections are in use.").
    /// </summary>
    public static bool IsTimeout(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is MySqlException { ErrorCode: MySqlErrorCode.CommandTimeoutExpired }
                || current is MySqlException { ErrorCode: MySqlErrorCode.UnableToConnectToHost } connect
                    && connect.Message.StartsWith("Connect Timeout expired", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when the failure is a unique-key violation (an insert of a row that exists already).</summary>
    public static bool IsUniqueViolation(Exception exception) =>
        exception is MySqlException { ErrorCode: MySqlErrorCode.DuplicateKeyEntry } || (exception.InnerException is { } inner && IsUniqueViolation(inner));

    internal static bool IsTransientErrorNumber(int number) => number switch
    {
        1213 => true, // deadlock found when trying to get lock; the transaction was rolled back
        1205 => true, // lock wait timeout exceeded
        1040 => true, // too many connections
        1042 => true, // unable to connect to any of the hosts
        1053 => true, // server shutdown in progress
        1927 => true, // MariaDB: connection was killed
        2006 => true, // server has gone away
        2013 => true, // lost connection during query
        4031 => true, // MySQL 8: disconnected by the server for inactivity
        _ => false,
    };
}
