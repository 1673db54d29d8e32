using System.Globalization;
using Bazaar.Hosting.Processes;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MySql.Data.MySqlClient;

namespace Bazaar.Hosting;

/// <summary>A MySQL server: Debian's MariaDB (mariadbd) run locally, or the mysql:8 container.</summary>
public sealed class MySqlServerResource(string name, int? port = null) : BackingServerResource(name, port)
{
    private readonly List<MySqlDatabaseResource> _databases = [];

    public IReadOnlyList<MySqlDatabaseResource> Databases => _databases;

    public override string PackageName => "mariadb-server";

    public override string ServerProgram => "mariadbd";

    public override string ContainerImage => "mysql:8";

    public override int ContainerPort => 3306;

    public override string DefaultUserName => "root";

    protected override string HealthCheckName => "mysql-select-1";

    /// <summary>The connection string without a database (for administration).</summary>
    public string? GetServerConnectionString() => BuildConnectionString(database: null);

    /// <summary>Aspire's form: Server=127.0.0.1;Port=P;User ID=root;Password=PW;Database=D;SslMode=None.</summary>
    public string? BuildConnectionString(string? database) =>
        Credentials is null || PrimaryEndpoint.AllocatedPorts.Count == 0
            ? null
            : $"Server=127.0.0.1;Port={Port};User ID={Credentials.UserName};Password={Credentials.Password};"
              + (database is null ? string.Empty : $"Database={database};")
              + "SslMode=None";

    internal void AddDatabase(MySqlDatabaseResource database) => _databases.Add(database);

    private static string DataPath(ServerLaunchContext context) => Path.Combine(context.DataDirectory, "data");

    /// <summary>
    /// Its own directory for temporary tables. A starting mariadbd deletes every #sql file in its tmpdir, so with the
    /// shared /tmp one server starting deleted another's temporary tables: 1 of 6 mariadb-install-db runs at once failed
    /// ("Could not remove temporary table", then "Unknown table 'mysql.tmp_user_sys'"; CI, the end-to-end tests).
    /// </summary>
    private static string TempPath(ServerLaunchContext context) => Path.Combine(context.DataDirectory, "tmp");

    private static string SocketPath(ServerLaunchContext context)
    {
        // A Unix socket path must stay under 108 bytes; deep data directories fall back to /tmp.
        string socket = Path.Combine(context.DataDirectory, "mysqld.sock");
        return socket.Length < 100
            ? socket
            : Path.Combine(Path.GetTempPath(), $"bazaar-mysqld-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(socket)))[..12]}.sock");
    }

    public override async Task PrepareAsync(ServerLaunchContext context, CancellationToken cancellationToken)
    {
        string data = DataPath(context);
        Directory.CreateDirectory(TempPath(context));
        if (!Directory.Exists(Path.Combine(data, "mysql")))
        {
            Directory.CreateDirectory(data);
            await RunInstallDbAsync(context, data, cancellationToken).ConfigureAwait(false);
        }

        // Runs at every start, so the root password always matches the secrets file of this data directory.
        ServerCredentials credentials = RequiredCredentials;
        string password = credentials.Password.Replace("'", "''", StringComparison.Ordinal);
        string init = $"""
            CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '{password}';
            ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{password}';
            GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
            ALTER USER 'root'@'localhost' IDENTIFIED BY '{password}';
            FLUSH PRIVILEGES;
            """;
        string initFile = Path.Combine(context.DataDirectory, "init.sql");
        await File.WriteAllTextAsync(initFile, init + "\n", cancellationToken).ConfigureAwait(false);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(initFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static async Task RunInstallDbAsync(ServerLaunchContext context, string data, CancellationToken cancellationToken)
    {
        var spec = new ProcessSpec(
            "mariadb-install-db",
            ["--no-defaults", $"--datadir={data}", $"--tmpdir={TempPath(context)}", "--auth-root-authentication-method=normal", "--skip-test-db", "--user=root"])
        {
            WorkingDirectory = context.DataDirectory,
        };
        context.Log($"First start: {spec.CommandLine}");
        // What went wrong comes first; the last lines are the script's general advice.
        var head = new List<string>();
        await using ManagedProcess install = ManagedProcess.Start(spec, (line, _) =>
        {
            context.Log(line);
            lock (head)
            {
                if (head.Count < 12)
                {
                    head.Add(line);
                }
            }
        });
        int exitCode = await install.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            // Leave no half-initialised data directory: the next start must initialise again.
            Directory.Delete(data, recursive: true);
            throw new InvalidOperationException(
                $"mariadb-install-db failed with exit code {exitCode}. First lines:{Environment.NewLine}{string.Join(Environment.NewLine, head)}");
        }
    }

    public override ProcessSpec CreateProcessSpec(ServerLaunchContext context) => new(
        ServerProgram,
        [
            "--no-defaults",
            $"--datadir={DataPath(context)}",
            $"--port={Port.ToString(CultureInfo.InvariantCulture)}",
            $"--socket={SocketPath(context)}",
            $"--tmpdir={TempPath(context)}",
            "--bind-address=127.0.0.1",
            "--user=root",
            "--skip-name-resolve",
            $"--init-file={Path.Combine(context.DataDirectory, "init.sql")}",
            $"--pid-file={Path.Combine(context.DataDirectory, "mysqld.pid")}",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            // Every service replica (and every test host) keeps a connection pool; the default of 151 runs out.
            "--max-connections=2000",
            // Sized for write peaks (order placement writes about 5 KB of redo per order). With the defaults (a 128 MB
            // buffer pool, a 96 MB redo log) a peak of a few thousand orders a second fills the log in seconds, InnoDB
            // then flushes about 1,000 pages a second beside the commits, and placement's P99 grew with the data
            // (eng/bench/RESULTS.md, session 12).
            // The pool's memory is taken only as data comes in; the log file takes its 1 GB of disk at once.
            "--innodb-buffer-pool-size=1G",
            "--innodb-log-file-size=1G",
        ])
    {
        WorkingDirectory = context.DataDirectory,
    };

    protected override (IReadOnlyDictionary<string, string>, string, IReadOnlyList<string>) ContainerSettings =>
        (new Dictionary<string, string> { ["MYSQL_ROOT_PASSWORD"] = RequiredCredentials.Password }, "/var/lib/mysql", []);

    public override async Task<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken) =>
        await SelectOneAsync(GetServerConnectionString()!, cancellationToken).ConfigureAwait(false);

    internal async Task<HealthCheckResult> SelectOneAsync(string connectionString, CancellationToken cancellationToken)
    {
        try
        {
            // No pooling: a probe must not keep connections open, nor reuse one from before a restart.
            await using var connection = new MySqlConnection(connectionString + ";Pooling=false;Connection Timeout=5");
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new MySqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy("SELECT 1");
        }
        catch (Exception ex) when (ex is MySqlException or InvalidOperationException or IOException or System.Net.Sockets.SocketException)
        {
            return HealthCheckResult.Unhealthy($"MySQL on port {Port} does not answer SELECT 1: {ex.Message}", ex);
        }
    }

    public override async Task OnReadyAsync(ServerLaunchContext context, CancellationToken cancellationToken)
    {
        foreach (MySqlDatabaseResource database in _databases)
        {
            await CreateDatabaseAsync(database.DatabaseName, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>CREATE DATABASE IF NOT EXISTS, with utf8mb4.</summary>
    public async Task CreateDatabaseAsync(string databaseName, CancellationToken cancellationToken)
    {
        MySqlDatabaseResource.ValidateDatabaseName(databaseName);
        await using var connection = new MySqlConnection(GetServerConnectionString() + ";Pooling=false");
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        // CREATE DATABASE IF NOT EXISTS on an existing database raises a note that MySql.Data 8.0.16 fails to read
        // from MariaDB ("the given key was not present"): ask first.
        await using (var exists = new MySqlCommand("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = @name", connection))
        {
            exists.Parameters.AddWithValue("@name", databaseName);
            if (Convert.ToInt64(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0)
            {
                return;
            }
        }

        // A database name cannot be a parameter; it was validated above to letters, digits and '_'.
        await using var command = new MySqlCommand(
            $"CREATE DATABASE IF NOT EXISTS `{databaseName}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A database inside a MySQL server; created when the server first answers.</summary>
public sealed class MySqlDatabaseResource : Resource, IResourceWithConnectionString, IResourceWithParent, IResourceWithWaitSupport
{
    public MySqlDatabaseResource(string name, string databaseName, MySqlServerResource parent)
        : base(name)
    {
        ValidateDatabaseName(databaseName);
        DatabaseName = databaseName;
        Parent = parent;
        Annotations.Add(new HealthCheckAnnotation("mysql-select-1", (_, ct) => parent.SelectOneAsync(GetConnectionString()!, ct)));
    }

    public string DatabaseName { get; }

    public MySqlServerResource Parent { get; }

    IResource IResourceWithParent.Parent => Parent;

    public string? GetConnectionString() => Parent.BuildConnectionString(DatabaseName);

    internal static void ValidateDatabaseName(string databaseName)
    {
        if (string.IsNullOrEmpty(databaseName) || databaseName.Length > 64
            || !databaseName.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException(
                $"Database name '{databaseName}' is invalid: use 1 to 64 letters, digits or '_'.", nameof(databaseName));
        }
    }
}
