using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using Bazaar.Hosting;
using Bazaar.Hosting.Probes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace Aspire.Hosting;

public static class MySqlServerBuilderExtensions
{
    /// <summary>
    /// Adds MariaDB as a local process (<c>mariadbd</c>), preceded by a one-shot <c>{name}-install</c> resource that runs
    /// <c>mariadb-install-db</c> when the data directory has no database yet. Healthy when root logs in and SELECT 1 answers.
    /// </summary>
    public static IResourceBuilder<MariaDbServerResource> AddMariaDb(
        this IDistributedApplicationBuilder builder, [ResourceName] string name, BazaarDataDirectory data, int? port = null)
    {
        (string secret, IResourceBuilder<ParameterResource> password, string directory, int listenPort) = LocalServer.Prepare(builder, name, data, port, "mariadbd", "mariadb-server");
        string dataPath = Path.Combine(directory, "data");
        // Its own directory for temporary tables: a starting mariadbd deletes every #sql file in its tmpdir, so in a shared
        // /tmp one server starting deleted another's (1 in 6 side-by-side installs failed; CI, the end-to-end tests).
        string tempPath = Directory.CreateDirectory(Path.Combine(directory, "tmp")).FullName;
        var resource = new MariaDbServerResource(name, directory, password.Resource);

        // Run at every start, so root's password always matches this data directory's secret.
        string initFile = Path.Combine(directory, "init.sql");
        string quoted = secret.Replace("'", "''", StringComparison.Ordinal);
        BazaarDataDirectory.WriteOwnerOnly(initFile, $"""
            CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '{quoted}';
            ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{quoted}';
            GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
            ALTER USER 'root'@'localhost' IDENTIFIED BY '{quoted}';
            FLUSH PRIVILEGES;
            """);

        // Initialises the data directory once; a failed run leaves none behind, so the next start tries again.
        string install =
            $"test -d '{dataPath}/mysql' && exit 0; mkdir -p '{dataPath}' && "
            + $"mariadb-install-db --no-defaults --datadir='{dataPath}' --tmpdir='{tempPath}' --auth-root-authentication-method=normal --skip-test-db --user=root "
            + $"|| {{ status=$?; rm -rf '{dataPath}'; exit $status; }}";
        IResourceBuilder<ExecutableResource> installer = builder.AddExecutable($"{name}-install", "/bin/sh", directory, "-c", install)
            .WithIconName("ArrowDownload");

        string serverConnectionString = $"Server=127.0.0.1;Port={listenPort.ToString(CultureInfo.InvariantCulture)};User ID=root;Password={secret};SslMode=None";
        string healthCheck = $"{name}_select1";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, ct => ServerProbes.MySqlSelectOneAsync(serverConnectionString, ct));

        IResourceBuilder<MariaDbServerResource> server = builder.AddResource(resource)
            .WithEndpoint(port: listenPort, targetPort: listenPort, scheme: "tcp", name: MariaDbServerResource.PrimaryEndpointName, isProxied: false)
            .WithArgs(
                "--no-defaults",
                $"--datadir={dataPath}",
                $"--port={listenPort.ToString(CultureInfo.InvariantCulture)}",
                $"--socket={SocketPath(directory)}",
                $"--tmpdir={tempPath}",
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-name-resolve",
                $"--init-file={initFile}",
                $"--pid-file={Path.Combine(directory, "mysqld.pid")}",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                // Every service replica (and every test host) keeps a connection pool; the default of 151 runs out.
                "--max-connections=2000",
                // Sized for write peaks (order placement writes about 5 KB of redo per order): with the defaults a peak of
                // a few thousand orders a second fills the redo log in seconds (eng/bench/RESULTS.md, session 12).
                "--innodb-buffer-pool-size=1G",
                "--innodb-log-file-size=1G")
            .WaitForCompletion(installer)
            .WithIconName("DatabaseMultiple")
            .WithHealthCheck(healthCheck);
        CreateDatabasesWhenReady(server);
        return server;
    }

    /// <summary>The <c>mysql:8</c> container with the same name, port, credentials and databases (for <c>--runtime container</c>).</summary>
    public static IResourceBuilder<MySqlContainerResource> AddMySqlContainer(
        this IDistributedApplicationBuilder builder, [ResourceName] string name, BazaarDataDirectory data, int? port = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(data);

        IResourceBuilder<ParameterResource> password = builder.AddParameter($"{name}-password", data.Secret($"{name}-password"), secret: true);
        var resource = new MySqlContainerResource(name, password.Resource);
        string healthCheck = $"{name}_select1";
        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(resource, async (_, ct) =>
            connectionString = await resource.ConnectionStringExpression.GetValueAsync(ct).ConfigureAwait(false));
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, ct => SelectOneOnceKnownAsync(connectionString, ct));

        IResourceBuilder<MySqlContainerResource> server = builder.AddResource(resource)
            .WithImage("library/mysql", "8")
            .WithImageRegistry("docker.io")
            .WithEndpoint(port: data.Port(name, port), targetPort: 3306, scheme: "tcp", name: MySqlContainerResource.PrimaryEndpointName)
            .WithEnvironment(context => context.EnvironmentVariables["MYSQL_ROOT_PASSWORD"] = resource.PasswordParameter)
            // MySQL 8's data format differs from MariaDB's, so the container gets a folder of its own.
            .WithBindMount(Path.Combine(data.ResourceDirectory(name), "container"), "/var/lib/mysql")
            .WithIconName("DatabaseMultiple")
            .WithHealthCheck(healthCheck);
        CreateDatabasesWhenReady(server);
        return server;
    }

    /// <summary>A database created on the server when the server first answers (CREATE DATABASE IF NOT EXISTS, utf8mb4).</summary>
    public static IResourceBuilder<MySqlDatabaseResource> AddDatabase<T>(this IResourceBuilder<T> builder, [ResourceName] string name, string? databaseName = null)
        where T : IMySqlServerResource
    {
        ArgumentNullException.ThrowIfNull(builder);
        databaseName ??= name;
        ValidateDatabaseName(databaseName);
        var database = new MySqlDatabaseResource(name, databaseName, builder.Resource);
        builder.Resource.Databases.Add(database);

        string? connectionString = null;
        builder.ApplicationBuilder.Eventing.Subscribe<ConnectionStringAvailableEvent>(database, async (_, ct) =>
            connectionString = await database.ConnectionStringExpression.GetValueAsync(ct).ConfigureAwait(false));
        string healthCheck = $"{name}_select1";
        builder.ApplicationBuilder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, ct => SelectOneOnceKnownAsync(connectionString, ct));

        // Aspire gives a child its parent's state only under a container; a child of a local process has none of its own
        // unless it is published (without it, WaitFor(database) waits forever).
        return builder.ApplicationBuilder.AddResource(database)
            .WithParentRelationship(builder.Resource)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "MySqlDatabase",
                State = KnownResourceStates.Waiting,
                Properties = [new ResourcePropertySnapshot(CustomResourceKnownProperties.Source, databaseName)],
            })
            .WithIconName("Database")
            .WithHealthCheck(healthCheck);
    }

    private static void CreateDatabasesWhenReady<T>(IResourceBuilder<T> server)
        where T : IMySqlServerResource
    {
        server.ApplicationBuilder.Eventing.Subscribe<ResourceReadyEvent>(server.Resource, async (@event, ct) =>
        {
            ResourceNotificationService notifications = @event.Services.GetRequiredService<ResourceNotificationService>();
            ILogger logger = @event.Services.GetRequiredService<ResourceLoggerService>().GetLogger(server.Resource);
            string connectionString = (await server.Resource.ConnectionStringExpression.GetValueAsync(ct).ConfigureAwait(false))!;
            await using var connection = new MySqlConnection(connectionString);
            await connection.OpenAsync(ct).ConfigureAwait(false);
            foreach (MySqlDatabaseResource database in server.Resource.Databases)
            {
                // The name was validated to letters, digits and '_'; an identifier cannot be a parameter.
                await using var command = new MySqlCommand(
                    $"CREATE DATABASE IF NOT EXISTS `{database.DatabaseName}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", connection);
                await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                logger.LogInformation("Database {Database} is ready.", database.DatabaseName);
                await notifications.PublishUpdateAsync(database, state => state with
                {
                    State = KnownResourceStates.Running,
                    StartTimeStamp = DateTime.UtcNow,
                }).ConfigureAwait(false);
            }
        });
    }

    /// <summary>SELECT 1 once Aspire has resolved the connection string (a container's port is known only when it runs).</summary>
    private static Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> SelectOneOnceKnownAsync(string? connectionString, CancellationToken cancellationToken) =>
        connectionString is null
            ? Task.FromResult(Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy("No connection string yet."))
            : ServerProbes.MySqlSelectOneAsync(connectionString, cancellationToken);

    internal static void ValidateDatabaseName(string databaseName)
    {
        if (string.IsNullOrEmpty(databaseName) || databaseName.Length > 64
            || !databaseName.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"Database name '{databaseName}' is invalid: use 1 to 64 letters, digits or '_'.", nameof(databaseName));
        }
    }

    /// <summary>A Unix socket path must stay under 108 bytes; deep data directories fall back to /tmp.</summary>
    private static string SocketPath(string directory)
    {
        string socket = Path.Combine(directory, "mysqld.sock");
        return socket.Length < 100
            ? socket
            : Path.Combine(Path.GetTempPath(), $"bazaar-mysqld-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(socket)))[..12]}.sock");
    }
}
