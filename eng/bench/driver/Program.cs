using System.Diagnostics;
using System.Globalization;
using MySqlConnector;

// What one operation costs through MySqlConnector on one thread: wall time, and this process's CPU time (the driver's own
// cost; the server's is not counted). Every service's transactions are made of these, so this bounds what any of them
// can do per core. Usage: Bazaar.Bench.Driver <connection string> [operations per shape]
if (args.Length is 0 or > 2)
{
    Console.Error.WriteLine("Usage: Bazaar.Bench.Driver <connection string> [operations per shape]");
    return 2;
}

string connectionString = args[0];
int operations = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3000;

using (var setup = new MySqlConnection(connectionString))
{
    setup.Open();
    using var create = new MySqlCommand("CREATE TABLE IF NOT EXISTS driver_bench (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100) NOT NULL)", setup);
    create.ExecuteNonQuery();
}

using var held = new MySqlConnection(connectionString);
held.Open();

Console.WriteLine("| operation (one thread) | wall per op (µs) | driver CPU per op (µs) |");
Console.WriteLine("|---|---:|---:|");
Measure("pooled open + close", () =>
{
    using var connection = new MySqlConnection(connectionString);
    connection.Open();
});
Measure("round trip on an open connection (`SELECT 1`)", () =>
{
    using var command = new MySqlCommand("SELECT 1", held);
    command.ExecuteScalar();
});
Measure("BeginTransaction + INSERT + Commit (4 round trips)", () =>
{
    using var transaction = held.BeginTransaction();
    using var command = Insert(held, "INSERT INTO driver_bench (v) VALUES (@v)");
    command.Transaction = transaction;
    command.ExecuteNonQuery();
    transaction.Commit();
});
Measure("`START TRANSACTION; INSERT; COMMIT` as one batch (1 round trip)", () =>
{
    using var command = Insert(held, "START TRANSACTION; INSERT INTO driver_bench (v) VALUES (@v); COMMIT");
    command.ExecuteNonQuery();
});
Measure("pooled open + BeginTransaction + INSERT + Commit", () =>
{
    using var connection = new MySqlConnection(connectionString);
    connection.Open();
    using var transaction = connection.BeginTransaction();
    using var command = Insert(connection, "INSERT INTO driver_bench (v) VALUES (@v)");
    command.Transaction = transaction;
    command.ExecuteNonQuery();
    transaction.Commit();
});
return 0;

static MySqlCommand Insert(MySqlConnection connection, string sql)
{
    var command = new MySqlCommand(sql, connection);
    command.Parameters.AddWithValue("@v", "driver-bench");
    return command;
}

void Measure(string name, Action operation)
{
    for (int i = 0; i < Math.Min(300, operations); i++)
    {
        operation();
    }

    using var process = Process.GetCurrentProcess();
    TimeSpan cpuBefore = process.TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    for (int i = 0; i < operations; i++)
    {
        operation();
    }

    clock.Stop();
    process.Refresh();
    double cpu = (process.TotalProcessorTime - cpuBefore).TotalMicroseconds / operations;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {clock.Elapsed.TotalMicroseconds / operations:0} | {cpu:0} |"));
}
