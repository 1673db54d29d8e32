using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Bazaar.Hosting;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;

namespace Bazaar.Testing;

/// <summary>
/// Real Redis, RabbitMQ and MariaDB for tests: an Aspire model of just those servers (AppHost/Bazaar.Hosting's executable
/// resources) started through Aspire.Hosting.Testing in a temporary data directory on free loopback ports.
/// <see cref="SharedAsync"/> gives the one set a test process shares (isolate by database, key prefix, exchange and queue
/// names); <see cref="StartDedicatedAsync"/> gives a set of its own that a test may stop and start.
/// </summary>
public sealed class TestServers : IAsyncDisposable
{
    public const string Redis = "cache";
    public const string RabbitMq = "messaging";
    public const string MySql = "mysql";

    private static readonly TimeSpan StartDeadline = TimeSpan.FromMinutes(3);
    private static readonly string TestDataRoot = Path.Combine(Path.GetTempPath(), "bazaar-tests");
    private static readonly SemaphoreSlim SharedLock = new(1, 1);
    private static TestServers? _shared;

    private readonly Dictionary<string, string> _connectionStrings;
    private readonly bool _isShared;

    private TestServers(DistributedApplication app, string dataDirectory, Dictionary<string, string> connectionStrings, bool isShared)
    {
        Application = app;
        DataDirectory = dataDirectory;
        _connectionStrings = connectionStrings;
        _isShared = isShared;
    }

    /// <summary>The Aspire application running the servers.</summary>
    public DistributedApplication Application { get; }

    public string DataDirectory { get; }

    /// <summary>127.0.0.1:PORT,password=PW</summary>
    public string RedisConnectionString => ConnectionString(Redis);

    /// <summary>amqp://USER:PW@127.0.0.1:PORT</summary>
    public string RabbitMqConnectionString => ConnectionString(RabbitMq);

    /// <summary>Server=127.0.0.1;Port=PORT;User ID=root;Password=PW;SslMode=None (no database).</summary>
    public string MySqlConnectionString => ConnectionString(MySql);

    /// <summary>The servers every test of this process shares; started on first use, stopped when the process exits.</summary>
    public static async Task<TestServers> SharedAsync(CancellationToken cancellationToken = default)
    {
        await SharedLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_shared is null)
            {
                RemoveDataOfDeadTestRuns();
                _shared = await StartAsync(redis: true, rabbitMq: true, mySql: true, isShared: true, cancellationToken).ConfigureAwait(false);
                AppDomain.CurrentDomain.ProcessExit += (_, _) => StopSharedAtExit();
            }

            return _shared;
        }
        finally
        {
            SharedLock.Release();
        }
    }

    /// <summary>Servers of the test's own, which it may stop and start (outage tests). Dispose them.</summary>
    public static Task<TestServers> StartDedicatedAsync(bool redis = true, bool rabbitMq = true, bool mySql = true, CancellationToken cancellationToken = default) =>
        StartAsync(redis, rabbitMq, mySql, isShared: false, cancellationToken);

    /// <summary>A name no other test uses: "{prefix}_{12 hex digits}" (valid as a database, key prefix, exchange or queue name).</summary>
    public static string UniqueName(string prefix) =>
        $"{prefix.Replace('-', '_')}_{Guid.NewGuid().ToString("N")[..12]}";

    /// <summary>Creates a fresh, uniquely named database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix, CancellationToken cancellationToken = default)
    {
        string database = UniqueName(prefix);
        await using var connection = new MySqlConnection(MySqlConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        // The name is UniqueName's: letters, digits and '_' only; an identifier cannot be a parameter.
        await using var command = new MySqlCommand($"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return $"{MySqlConnectionString};Database={database}";
    }

    /// <summary>Stops a server of a dedicated set ("cache", "messaging" or "mysql"); its port and credentials stay.</summary>
    public async Task StopServerAsync(string name, CancellationToken cancellationToken = default)
    {
        if (_isShared)
        {
            throw new InvalidOperationException("The shared servers cannot be stopped: use TestServers.StartDedicatedAsync for outage tests.");
        }

        await ExecuteAsync(name, KnownResourceCommands.StopCommand, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts a stopped server again on the same port with the same credentials, and waits until it answers.</summary>
    public async Task StartServerAsync(string name, CancellationToken cancellationToken = default)
    {
        await ExecuteAsync(name, KnownResourceCommands.StartCommand, cancellationToken).ConfigureAwait(false);
        await WaitHealthyAsync(Application, name, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await Application.StopAsync().ConfigureAwait(false);
        await Application.DisposeAsync().ConfigureAwait(false);
        TryDeleteDirectory(DataDirectory);
    }

    private async Task ExecuteAsync(string name, string command, CancellationToken cancellationToken)
    {
        IResource resource = Application.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == name);
        ExecuteCommandResult result = await Application.ResourceCommands.ExecuteCommandAsync(resource, command, cancellationToken).ConfigureAwait(false);
        if (!result.Success)
        {
            throw new InvalidOperationException($"{command} on '{name}' failed: {result.Message}");
        }
    }

    private string ConnectionString(string name) => _connectionStrings.TryGetValue(name, out string? connectionString)
        ? connectionString
        : throw new InvalidOperationException($"This server set has no '{name}': start it with that server enabled.");

    private static async Task<TestServers> StartAsync(bool redis, bool rabbitMq, bool mySql, bool isShared, CancellationToken cancellationToken)
    {
        // The owning process id in the folder name lets a later run remove what a killed test process left (DCP, which
        // watches the test process, stops the servers themselves).
        string dataDirectory = Path.Combine(
            TestDataRoot,
            string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}"));
        IDistributedApplicationTestingBuilder builder = await DistributedApplicationTestingBuilder
            .CreateAsync<Projects.Bazaar_TestHost>(cancellationToken)
            .ConfigureAwait(false);
        var data = new BazaarDataDirectory(dataDirectory, useFreePorts: true);
        var names = new List<string>();
        if (redis)
        {
            builder.AddRedisServer(Redis, data).WithRestartOnCrash();
            names.Add(Redis);
        }

        if (rabbitMq)
        {
            builder.AddRabbitMQServer(RabbitMq, data).WithRestartOnCrash();
            names.Add(RabbitMq);
        }

        if (mySql)
        {
            builder.AddMariaDb(MySql, data).WithRestartOnCrash();
            names.Add(MySql);
        }

        DistributedApplication app = await builder.BuildAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var connectionStrings = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string name in names)
            {
                await WaitHealthyAsync(app, name, cancellationToken).ConfigureAwait(false);
                connectionStrings[name] = await app.GetConnectionStringAsync(name, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"'{name}' has no connection string.");
            }

            return new TestServers(app, dataDirectory, connectionStrings, isShared);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            TryDeleteDirectory(dataDirectory);
            throw;
        }
    }

    private static async Task WaitHealthyAsync(DistributedApplication app, string name, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StartDeadline);
        try
        {
            await app.ResourceNotifications.WaitForResourceHealthyAsync(name, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"'{name}' was not healthy within {StartDeadline.TotalSeconds} s; its console log is in the test output.");
        }
    }

    private static void StopSharedAtExit()
    {
        TestServers? shared = _shared;
        if (shared is null)
        {
            return;
        }

        _shared = null;
        try
        {
            shared.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(30));
        }
        catch (AggregateException)
        {
            // The process is exiting; DCP stops whatever is left when it sees the test process gone.
        }
    }

    /// <summary>Removes the data directories of test processes that died without removing them.</summary>
    private static void RemoveDataOfDeadTestRuns()
    {
        if (!Directory.Exists(TestDataRoot))
        {
            return;
        }

        foreach (string directory in Directory.EnumerateDirectories(TestDataRoot))
        {
            string owner = Path.GetFileName(directory).Split('-')[0];
            if (int.TryParse(owner, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && !IsAlive(pid))
            {
                TryDeleteDirectory(directory);
            }
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void TryDeleteDirectory(string directory)
    {
        // A server that has just exited may still be closing files; a few tries, then the next run removes the folder.
        for (int attempt = 0; attempt < 5 && Directory.Exists(directory); attempt++)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Thread.Sleep(200 * (attempt + 1));
            }
        }
    }
}
