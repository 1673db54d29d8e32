using System.Globalization;
using Bazaar.Data;
using MySqlConnector;

/// <summary>
/// What the servers spent during a phase: CPU of the processes listening on the MariaDB and RabbitMQ ports (from
/// /proc/&lt;pid&gt;/stat, clock ticks) and MariaDB's statement counters (SHOW GLOBAL STATUS), so the cost of an event can
/// be split between the benchmark process (producers, relay, consumer), MariaDB and RabbitMQ.
/// </summary>
internal sealed class ServerProbe
{
    private static readonly string[] Counters =
    [
        "Questions", "Com_select", "Com_insert", "Com_update", "Com_begin", "Com_commit", "Innodb_data_fsyncs",
    ];

    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    private readonly int? _mysqlPid;
    private readonly int? _amqpPid;
    private readonly string _mysqlServer;

    private ServerProbe(string mysqlServer, int? mysqlPid, int? amqpPid)
    {
        _mysqlServer = mysqlServer;
        _mysqlPid = mysqlPid;
        _amqpPid = amqpPid;
    }

    public static ServerProbe For(string mysqlServer, string amqp) => new(
        mysqlServer,
        ListeningPid((int)new MySqlConnectionStringBuilder(mysqlServer).Port),
        ListeningPid(new Uri(amqp).Port));

    public async Task<Snapshot> TakeAsync(CancellationToken cancellationToken)
    {
        var status = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        await using var connection = await new MySqlDataSource(_mysqlServer).OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SHOW GLOBAL STATUS WHERE Variable_name IN ({string.Join(", ", Counters.Select(c => $"'{c}'"))})";
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                status[reader.GetString(0)] = long.Parse(reader.GetString(1), CultureInfo.InvariantCulture);
            }
        }

        return new Snapshot(CpuSeconds(_mysqlPid), CpuSeconds(_amqpPid), status);
    }

    /// <summary>Per event: MariaDB and RabbitMQ CPU in µs, and MariaDB's counters.</summary>
    public static string Describe(Snapshot before, Snapshot after, int events)
    {
        var n = Math.Max(1, events);
        var counters = string.Join(", ", Counters.Select(c =>
            string.Create(CultureInfo.InvariantCulture, $"{c} {(after.Status.GetValueOrDefault(c) - before.Status.GetValueOrDefault(c)) / (double)n:F2}")));
        return string.Create(CultureInfo.InvariantCulture,
            $"MariaDB CPU {Micro(before.MySqlCpu, after.MySqlCpu, n)} µs/event, RabbitMQ CPU {Micro(before.AmqpCpu, after.AmqpCpu, n)} µs/event; MariaDB per event: {counters}");
    }

    public static double MicrosPerEvent(double? before, double? after, int events) =>
        before is { } b && after is { } a ? (a - b) * 1e6 / Math.Max(1, events) : double.NaN;

    private static string Micro(double? before, double? after, int events) =>
        MicrosPerEvent(before, after, events) is var value && double.IsNaN(value) ? "n/a" : value.ToString("F0", CultureInfo.InvariantCulture);

    private static double? CpuSeconds(int? pid)
    {
        if (pid is not { } id)
        {
            return null;
        }

        try
        {
            // Fields after the command name (which is in parentheses and may hold spaces): utime is the 14th field overall.
            var stat = File.ReadAllText($"/proc/{id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The process listening on a loopback TCP port: its socket inode from /proc/net/tcp*, then whose fd it is.</summary>
    private static int? ListeningPid(int port)
    {
        var hexPort = port.ToString("X4", CultureInfo.InvariantCulture);
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length > 9 && parts[1].EndsWith(":" + hexPort, StringComparison.Ordinal) && parts[3] == "0A")
                {
                    inodes.Add($"socket:[{parts[9]}]");
                }
            }
        }

        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(directory, "fd")))
                {
                    if (new FileInfo(fd).LinkTarget is { } target && inodes.Contains(target))
                    {
                        return pid;
                    }
                }
            }
            catch (Exception exception) when (exception is UnauthorizedAccessException or IOException)
            {
                // Another user's process, or one that ended while we looked.
            }
        }

        return null;
    }

    internal sealed record Snapshot(double? MySqlCpu, double? AmqpCpu, Dictionary<string, long> Status);
}
