using System.Globalization;
using Bazaar.Hosting;
using Bazaar.Hosting.Processes;
using Microsoft.Extensions.DependencyInjection;

namespace Bazaar.Testing;

/// <summary>
/// Real Redis, RabbitMQ and MariaDB for tests, started by the hosting engine in a temporary data directory on free
/// loopback ports. <see cref="SharedAsync"/> gives the one set a test process shares (isolate by database, key prefix,
/// exchange and queue names); <see cref="StartDedicatedAsync"/> gives a set of its own that a test may stop and start.
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

    private readonly DistributedApplication _app;
    private readonly bool _isShared;

    private TestServers(DistributedApplication app, string dataDirectory, bool isShared)
    {
        _app = app;
        DataDirectory = dataDirectory;
        _isShared = isShared;
    }

    /// <summary>The application running the servers (its Services hold the notification, logger and command services).</summary>
    public DistributedApplication Application => _app;

    public string DataDirectory { get; }

    /// <summary>127.0.0.1:PORT,password=PW</summary>
    public string RedisConnectionString => ConnectionString(Redis);

    /// <summary>amqp://USER:PW@127.0.0.1:PORT</summary>
    public string RabbitMqConnectionString => ConnectionString(RabbitMq);

    /// <summary>Server=127.0.0.1;Port=PORT;User ID=root;Password=PW;SslMode=None (no database).</summary>
    public string MySqlConnectionString => Server<MySqlServerResource>(MySql).GetServerConnectionString()!;

    /// <summary>The servers every test of this process shares; started on first use, stopped when the process exits.</summary>
    public static async Task<TestServers> SharedAsync(CancellationToken cancellationToken = default)
    {
        await SharedLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_shared is null)
            {
                await EndLeftoversOfDeadTestRunsAsync(cancellationToken).ConfigureAwait(false);
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
        MySqlServerResource mysql = Server<MySqlServerResource>(MySql);
        string database = UniqueName(prefix);
        await mysql.CreateDatabaseAsync(database, cancellationToken).ConfigureAwait(false);
        return mysql.BuildConnectionString(database)!;
    }

    /// <summary>Stops a server of a dedicated set ("cache", "messaging" or "mysql"); its port and credentials stay.</summary>
    public async Task StopServerAsync(string name, CancellationToken cancellationToken = default)
    {
        if (_isShared)
        {
            throw new InvalidOperationException("The shared servers cannot be stopped: use TestServers.StartDedicatedAsync for outage tests.");
        }

        await Commands.StopAsync(name, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts a stopped server again on the same port with the same credentials, and waits until it answers.</summary>
    public async Task StartServerAsync(string name, CancellationToken cancellationToken = default)
    {
        await Commands.StartAsync(name, cancellationToken).ConfigureAwait(false);
        await WaitHealthyAsync(_app, name, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync().ConfigureAwait(false);
        TryDeleteDirectory(DataDirectory);
    }

    private ResourceCommandService Commands => _app.Services.GetRequiredService<ResourceCommandService>();

    private T Server<T>(string name)
        where T : class, IResource =>
        _app.Services.GetRequiredService<DistributedApplicationModel>().Find(name) as T
            ?? throw new InvalidOperationException($"This server set has no '{name}': start it with that server enabled.");

    private string ConnectionString(string name) =>
        Server<IResourceWithConnectionString>(name).GetConnectionString()
            ?? throw new InvalidOperationException($"'{name}' has no connection string yet.");

    private static async Task<TestServers> StartAsync(bool redis, bool rabbitMq, bool mySql, bool isShared, CancellationToken cancellationToken)
    {
        // The owning process id in the folder name lets a later run clean up after a test process that was killed.
        string dataDirectory = Path.Combine(
            TestDataRoot,
            string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}"));
        IDistributedApplicationBuilder builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions
        {
            DataDirectory = dataDirectory,
            UseFreePorts = true,
            DashboardUrl = null,
            ConsoleLogging = false,
        });
        if (redis)
        {
            builder.AddRedis(Redis);
        }

        if (rabbitMq)
        {
            builder.AddRabbitMQ(RabbitMq);
        }

        if (mySql)
        {
            builder.AddMySql(MySql);
        }

        DistributedApplication app = builder.Build();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            foreach (IResource resource in builder.Resources)
            {
                await WaitHealthyAsync(app, resource.Name, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            TryDeleteDirectory(dataDirectory);
            throw;
        }

        return new TestServers(app, dataDirectory, isShared);
    }

    private static async Task WaitHealthyAsync(DistributedApplication app, string name, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StartDeadline);
        try
        {
            await app.Services.GetRequiredService<ResourceNotificationService>().WaitForResourceHealthyAsync(name, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            IReadOnlyList<string> tail = app.Services.GetRequiredService<ResourceLoggerService>().Tail(name, 30);
            throw new TimeoutException(
                $"'{name}' was not healthy within {StartDeadline.TotalSeconds} s. Last lines of its log:{Environment.NewLine}{string.Join(Environment.NewLine, tail)}");
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
            // The process is exiting; the next test run ends whatever is left through the pid files.
        }
    }

    /// <summary>Ends the servers of test processes that died without stopping them, and removes their data.</summary>
    private static async Task EndLeftoversOfDeadTestRunsAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(TestDataRoot))
        {
            return;
        }

        foreach (string directory in Directory.EnumerateDirectories(TestDataRoot))
        {
            string owner = Path.GetFileName(directory).Split('-')[0];
            if (int.TryParse(owner, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && ProcessTable.IsAlive(pid))
            {
                continue;
            }

            string pids = Path.Combine(directory, "pids");
            if (Directory.Exists(pids))
            {
                foreach (string pidFile in Directory.EnumerateFiles(pids, "*.pid"))
                {
                    await ManagedProcess.EndLeftoverAsync(pidFile, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
                }
            }

            TryDeleteDirectory(directory);
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
