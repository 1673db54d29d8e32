using System.Net.Sockets;
using MySql.Data.MySqlClient;

namespace Bazaar.Data;

/// <summary>Which database failures are worth retrying: the ones that a second attempt of the same work can get past.</summary>
public static class TransientErrors
{
    private const int DuplicateKey = 1062;

    public static bool IsTransient(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case MySqlException mySql when IsTransientErrorNumber(mySql.Number):
                case IOException:
                case SocketException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>True when the failure is a unique-key violation (an insert of a row that exists already).</summary>
    public static bool IsUniqueViolation(Exception exception) =>
        exception is MySqlException { Number: DuplicateKey } || (exception.InnerException is { } inner && IsUniqueViolation(inner));

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
