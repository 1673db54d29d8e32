using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Net;
using MySql.Data.MySqlClient;
using Polly;
using Polly.Retry;

namespace Bazaar.Data;

/// <summary>
/// One per database: owns the connection string and hands out open connections.
/// The only type that knows the MySQL driver, so the driver can be swapped without touching callers.
/// </summary>
public sealed class MySqlDataSource
{
    private static readonly string[] SslModeKeys = ["sslmode", "ssl mode", "ssl-mode"];

    // MySql.Data 8.0.16 opens a new connection by starting an asynchronous TCP connect and blocking its thread on it
    // (StreamCreator.GetTcpStream: Task.Wait); the connect completes on the thread pool. A burst of opens on a cold pool
    // (a thousand reservations at once) blocked every pool thread that way, with nothing left to complete the connects:
    // the process stood still until the pool grew a thread at a time, while a transaction holding a row lock waited
    // behind them (a dump of the stall: 19 workers, all in GetTcpStream). So opens go a few at a time, the rest waiting
    // without a thread. Taking a connection the pool already holds costs two short round trips (ping, COM_INIT_DB), so
    // the queue stays short once the pool is warm.
    private static readonly SemaphoreSlim Opening = new(Environment.ProcessorCount, Environment.ProcessorCount);

    private readonly DataRetryOptions _retryOptions;
    private readonly ResiliencePipeline _retry;
    private readonly ConnectionGate? _gate;

    public MySqlDataSource(string connectionString, string? name = null, DataRetryOptions? retry = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _retryOptions = retry ?? new DataRetryOptions();
        _retry = BuildRetryPipeline(_retryOptions);
        ConnectionString = Normalize(connectionString);
        var parsed = new MySqlConnectionStringBuilder(ConnectionString);
        DatabaseName = parsed.Database;
        Server = parsed.Server;
        Port = parsed.Port;
        Name = name ?? DatabaseName;
        _gate = parsed.Pooling
            ? ConnectionGate.For(ConnectionString, (int)parsed.MaximumPoolSize, TimeSpan.FromSeconds(parsed.ConnectionTimeout))
            : null;
    }

    /// <summary>The logical name (the connection string's name in configuration).</summary>
    public string Name { get; }

    public string ConnectionString { get; }

    public string DatabaseName { get; }

    internal string Server { get; }

    internal uint Port { get; }

    /// <summary>
    /// Opens a connection of the pool. When every pooled connection is in use, waits (asynchronously) for one to close,
    /// for up to the connection string's Connect Timeout, then throws <see cref="DatabaseBusyException"/>.
    /// </summary>
    public async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        var connection = new MySqlConnection(ConnectionString);
        ConnectionGate.Place? place = null;
        try
        {
            if (_gate is not null)
            {
                place = await _gate.EnterAsync(connection, Name, cancellationToken).ConfigureAwait(false);
            }

            await Opening.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Opening.Release();
            }

            await using var command = connection.CreateCommand();
            command.CommandText = SessionSetup;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            place?.Leave(); // a connection that never opened does not close, so it leaves here
            throw;
        }
    }

    /// <summary>Pooled connections that may be opened now without waiting (null without pooling).</summary>
    internal int? FreeConnections => _gate?.Free;

    // MariaDB labels system strings (SHOW WARNINGS, @@version) utf8mb3, a name MySql.Data 8.0.16 does not know: any statement
    // that raised a note (CREATE TABLE IF NOT EXISTS on an existing table, INSERT IGNORE) then failed with KeyNotFoundException.
    // Asking for every result in utf8mb4 makes the server label them so.
    private const string SessionSetup = "SET character_set_results = utf8mb4";

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction on a fresh connection and commits it; on a transient failure
    /// (deadlock, lock wait timeout, lost connection) the whole unit is rolled back and run again with back-off,
    /// so <paramref name="work"/> must do nothing outside the transaction that cannot be repeated.
    /// </summary>
    public Task<T> InTransactionAsync<T>(
        Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work,
        CancellationToken cancellationToken = default,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified) =>
        WithRetryAsync(async token =>
        {
            await using var connection = await OpenConnectionAsync(token).ConfigureAwait(false);
            return await RunTransactionAsync(connection, work, isolationLevel, token).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>Runs <paramref name="work"/> in one transaction on <paramref name="connection"/> and commits it (no retry).</summary>
    internal static async Task<T> RunTransactionAsync<T>(
        DbConnection connection,
        Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work,
        IsolationLevel isolationLevel,
        CancellationToken cancellationToken)
    {
        var transaction = await TransactionStart.BeginAsync(connection, isolationLevel, cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await work(connection, transaction, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            // Disposing rolls back what was not committed; only then has the transaction ended.
            await transaction.DisposeAsync().ConfigureAwait(false);
            TransactionEnd.Ended(transaction);
        }
    }

    /// <summary>
    /// Runs the statements of <paramref name="whole"/> as a transaction in ONE command (no retry): BEGIN, the statements and
    /// COMMIT travel together, so the transaction costs one round trip instead of three. If a statement fails, the server
    /// stops there and the transaction is rolled back before the failure is thrown.
    /// </summary>
    /// <returns>The rows the statements changed.</returns>
    internal static async Task<int> RunTransactionAsync(DbConnection connection, SqlBatch whole, IsolationLevel isolationLevel, CancellationToken cancellationToken)
    {
        if (TransactionStart.Prefix(connection, isolationLevel) is not { } begin)
        {
            return await RunTransactionAsync(connection, (c, transaction, token) => whole.ExecuteAsync(c, transaction, token), isolationLevel, cancellationToken)
                .ConfigureAwait(false);
        }

        try
        {
            return await whole.ExecuteAsync(connection, transaction: null, begin, suffix: "COMMIT", cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // BEGIN ran before the failing statement: end that transaction before the connection serves anyone again.
            await RollBackAsync(connection).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Runs a transaction in two commands whatever <paramref name="work"/> sends in between (no retry): the statements of
    /// <paramref name="first"/> go in the command that begins the transaction, and those that <paramref name="work"/>
    /// adds to the batch it is given go in the command that commits it. If a statement fails, the ones after it in the
    /// same command do not run (the server stops there), and the transaction is rolled back.
    /// </summary>
    /// <returns>
    /// <paramref name="work"/>'s result; or <c>default</c> when <paramref name="first"/> failed and
    /// <paramref name="absorbFirstFailure"/> accepted the failure (the transaction is rolled back, the connection stays usable).
    /// </returns>
    internal static async Task<T?> RunTransactionAsync<TFirst, T>(
        DbConnection connection,
        SqlBatch first,
        Func<DbDataReader, CancellationToken, Task<TFirst>> read,
        Func<DbConnection, DbTransaction, TFirst, SqlBatch, CancellationToken, Task<T>> work,
        Func<Exception, bool>? absorbFirstFailure,
        IsolationLevel isolationLevel,
        CancellationToken cancellationToken)
    {
        DbTransaction transaction;
        TFirst firstResult;
        if (TransactionStart.Prefix(connection, isolationLevel) is { } begin)
        {
            try
            {
                firstResult = await first.QueryAsync(connection, transaction: null, begin, read, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                // BEGIN ran before the failing statement: end that transaction before the connection serves anyone again.
                if (!await RollBackAsync(connection).ConfigureAwait(false) || absorbFirstFailure?.Invoke(exception) != true)
                {
                    throw;
                }

                return default;
            }

            transaction = TransactionStart.Begun(connection, isolationLevel);
        }
        else
        {
            transaction = await TransactionStart.BeginAsync(connection, isolationLevel, cancellationToken).ConfigureAwait(false);
            try
            {
                firstResult = await first.QueryAsync(connection, transaction, prefix: null, read, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (absorbFirstFailure?.Invoke(exception) == true)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
                TransactionEnd.Ended(transaction);
                return default;
            }
            catch
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
                TransactionEnd.Ended(transaction);
                throw;
            }
        }

        try
        {
            var last = new SqlBatch(first.Name);
            var result = await work(connection, transaction, firstResult, last, cancellationToken).ConfigureAwait(false);
            await TransactionCommit.CommitAsync(transaction, last, cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            TransactionEnd.Ended(transaction);
        }
    }

    // True when the connection is open and out of any transaction afterwards.
    private static async Task<bool> RollBackAsync(DbConnection connection)
    {
        if (connection.State != ConnectionState.Open)
        {
            return false;
        }

        try
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "ROLLBACK";
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            return true;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <inheritdoc cref="InTransactionAsync{T}"/>
    public Task InTransactionAsync(
        Func<DbConnection, DbTransaction, CancellationToken, Task> work,
        CancellationToken cancellationToken = default,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified) =>
        InTransactionAsync<bool>(async (connection, transaction, token) =>
        {
            await work(connection, transaction, token).ConfigureAwait(false);
            return true;
        }, cancellationToken, isolationLevel);

    /// <summary>
    /// Open connections kept between units of work, for a component that runs transactions back to back (see
    /// <see cref="HeldConnections"/>); the caller disposes them when it stops.
    /// </summary>
    public HeldConnections HoldConnections(int capacity, TimeProvider? timeProvider = null) => new(this, capacity, timeProvider ?? TimeProvider.System);

    /// <summary>Runs <paramref name="work"/> on a fresh open connection, retrying it on transient failures.</summary>
    public Task<T> WithConnectionAsync<T>(Func<DbConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken = default) =>
        WithRetryAsync(async token =>
        {
            await using var connection = await OpenConnectionAsync(token).ConfigureAwait(false);
            return await work(connection, token).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>Runs any unit of work with this data source's transient-error retry.</summary>
    public async Task<T> WithRetryAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken = default) =>
        await _retry.ExecuteAsync(static async (work, token) => await work(token).ConfigureAwait(false), work, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The same database on connections of their own, never pooled: disposing one ends its session and whatever the session
    /// held (a named lock, say), where a pooled one would keep it alive, lock and all, for the next caller.
    /// </summary>
    public MySqlDataSource WithoutPooling()
    {
        var builder = new MySqlConnectionStringBuilder(ConnectionString) { Pooling = false };
        return new MySqlDataSource(builder.ConnectionString, Name, _retryOptions);
    }

    /// <summary>The same server without a default database: for creating the database itself.</summary>
    internal MySqlDataSource WithoutDatabase()
    {
        var builder = new MySqlConnectionStringBuilder(ConnectionString) { Database = string.Empty };
        return new MySqlDataSource(builder.ConnectionString, Name, _retryOptions);
    }

    private static ResiliencePipeline BuildRetryPipeline(DataRetryOptions options)
    {
        if (options.MaxRetryAttempts <= 0)
        {
            return ResiliencePipeline.Empty;
        }

        return new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(TransientErrors.IsTransient),
                MaxRetryAttempts = options.MaxRetryAttempts,
                Delay = options.BaseDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = static args =>
                {
                    Activity.Current?.AddEvent(new ActivityEvent("db.retry", tags: new ActivityTagsCollection
                    {
                        ["retry.attempt"] = args.AttemptNumber + 1,
                        ["error.type"] = args.Outcome.Exception?.GetType().FullName,
                    }));
                    return default;
                },
            })
            .Build();
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
