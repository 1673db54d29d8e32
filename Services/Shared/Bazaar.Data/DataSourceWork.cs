using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using MySqlConnector;
using Polly;
using Polly.Retry;

namespace Bazaar.Data;

/// <summary>
/// Units of work on MySqlConnector's <see cref="MySqlDataSource"/>: a connection or a transaction, retried whole on
/// transient failures (<see cref="TransientErrors.IsTransient"/>) with the retry of the data source's settings
/// (<c>AddMySqlDataSource</c>), or the default one for a data source made elsewhere.
/// </summary>
public static class DataSourceWork
{
    private static readonly ConditionalWeakTable<MySqlDataSource, ResiliencePipeline> Retries = [];
    private static readonly ResiliencePipeline DefaultRetry = BuildRetryPipeline(new DataRetryOptions());

    /// <summary>Makes <paramref name="dataSource"/>'s units of work retry as <paramref name="options"/> say.</summary>
    public static void UseRetry(MySqlDataSource dataSource, DataRetryOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        Retries.AddOrUpdate(dataSource, BuildRetryPipeline(options));
    }

    /// <summary>The database the data source's connections use.</summary>
    public static string DatabaseName(this MySqlDataSource dataSource) => new MySqlConnectionStringBuilder(dataSource.ConnectionString).Database;

    /// <summary>Runs any unit of work with this data source's transient-error retry.</summary>
    public static async Task<T> WithRetryAsync<T>(this MySqlDataSource dataSource, Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken = default) =>
        await Retry(dataSource).ExecuteAsync(static async (work, token) => await work(token).ConfigureAwait(false), work, cancellationToken).ConfigureAwait(false);

    /// <summary>Runs <paramref name="work"/> on a fresh open connection, retrying it on transient failures.</summary>
    public static Task<T> WithConnectionAsync<T>(this MySqlDataSource dataSource, Func<DbConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken = default) =>
        dataSource.WithRetryAsync(async token =>
        {
            await using var connection = await dataSource.OpenConnectionAsync(token).ConfigureAwait(false);
            return await work(connection, token).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction on a fresh connection and commits it; on a transient failure
    /// (deadlock, lock wait timeout, lost connection) the whole unit is rolled back and run again with back-off,
    /// so <paramref name="work"/> must do nothing outside the transaction that cannot be repeated.
    /// </summary>
    public static Task<T> InTransactionAsync<T>(
        this MySqlDataSource dataSource,
        Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work,
        CancellationToken cancellationToken = default,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified) =>
        dataSource.WithConnectionAsync((connection, token) => RunTransactionAsync(connection, work, isolationLevel, token), cancellationToken);

    /// <inheritdoc cref="InTransactionAsync{T}(MySqlDataSource, Func{DbConnection, DbTransaction, CancellationToken, Task{T}}, CancellationToken, IsolationLevel)"/>
    public static Task InTransactionAsync(
        this MySqlDataSource dataSource,
        Func<DbConnection, DbTransaction, CancellationToken, Task> work,
        CancellationToken cancellationToken = default,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified) =>
        dataSource.InTransactionAsync<bool>(async (connection, transaction, token) =>
        {
            await work(connection, transaction, token).ConfigureAwait(false);
            return true;
        }, cancellationToken, isolationLevel);

    /// <summary>
    /// A transaction in ONE round trip, retried whole on transient failures: BEGIN, the statements of
    /// <paramref name="whole"/> and COMMIT go as one command. Where a statement fails, the ones after it do not run and
    /// the transaction rolls back. Returns the rows the statements changed.
    /// </summary>
    public static Task<int> InTransactionAsync(this MySqlDataSource dataSource, SqlBatch whole, IsolationLevel isolationLevel = IsolationLevel.Unspecified, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(whole);
        return dataSource.WithConnectionAsync((connection, token) => RunTransactionAsync(connection, whole, isolationLevel, token), cancellationToken);
    }

    /// <summary>
    /// A transaction whose first statements are <paramref name="first"/> and whose last are those <paramref name="work"/>
    /// adds to the batch it is given (sent just before the commit), retried whole on transient failures;
    /// <paramref name="work"/> runs once <paramref name="first"/> succeeded, and may send commands of its own in between.
    /// When <paramref name="first"/> fails with an error that <paramref name="absorbFirstFailure"/> accepts (a duplicate
    /// key, say), the transaction is rolled back and the result is <c>default</c> (<paramref name="work"/> does not run).
    /// </summary>
    public static Task<T?> InTransactionAsync<T>(
        this MySqlDataSource dataSource,
        SqlBatch first,
        Func<DbConnection, DbTransaction, SqlBatch, CancellationToken, Task<T>> work,
        Func<Exception, bool>? absorbFirstFailure = null,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return dataSource.InTransactionAsync(first, static (reader, _) => Task.FromResult(reader.RecordsAffected),
            (connection, transaction, _, last, token) => work(connection, transaction, last, token), absorbFirstFailure, isolationLevel, cancellationToken);
    }

    /// <summary>
    /// As <see cref="InTransactionAsync{T}(MySqlDataSource, SqlBatch, Func{DbConnection, DbTransaction, SqlBatch, CancellationToken, Task{T}}, Func{Exception, bool}?, IsolationLevel, CancellationToken)"/>,
    /// where <paramref name="first"/> returns rows (a claim): <paramref name="read"/> reads every result set of its
    /// command, and <paramref name="work"/> gets what it read.
    /// </summary>
    public static Task<T?> InTransactionAsync<TFirst, T>(
        this MySqlDataSource dataSource,
        SqlBatch first,
        Func<DbDataReader, CancellationToken, Task<TFirst>> read,
        Func<DbConnection, DbTransaction, TFirst, SqlBatch, CancellationToken, Task<T>> work,
        Func<Exception, bool>? absorbFirstFailure = null,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(work);
        return dataSource.WithConnectionAsync((connection, token) => RunTransactionAsync(connection, first, read, work, absorbFirstFailure, isolationLevel, token), cancellationToken);
    }

    /// <summary>
    /// The same database on connections of their own, never pooled: disposing one ends its session and whatever the session
    /// held (a named lock, say), where a pooled one would keep it alive, lock and all, for the next caller. The caller
    /// disposes the data source.
    /// </summary>
    public static MySqlDataSource WithoutPooling(this MySqlDataSource dataSource) =>
        Derived(dataSource, new MySqlConnectionStringBuilder(dataSource.ConnectionString) { Pooling = false });

    /// <summary>The same server without a default database, never pooled: for creating the database itself.</summary>
    internal static MySqlDataSource WithoutDatabase(this MySqlDataSource dataSource) =>
        Derived(dataSource, new MySqlConnectionStringBuilder(dataSource.ConnectionString) { Database = string.Empty, Pooling = false });

    private static MySqlDataSource Derived(MySqlDataSource dataSource, MySqlConnectionStringBuilder connectionString)
    {
        var derived = new MySqlDataSource(connectionString.ConnectionString);
        Retries.AddOrUpdate(derived, Retry(dataSource));
        return derived;
    }

    /// <summary>Runs <paramref name="work"/> in one transaction on <paramref name="connection"/> and commits it (no retry).</summary>
    internal static async Task<T> RunTransactionAsync<T>(
        DbConnection connection,
        Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work,
        IsolationLevel isolationLevel,
        CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(isolationLevel, cancellationToken).ConfigureAwait(false);
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
    /// COMMIT travel together, so the transaction costs one round trip instead of four (MySqlConnector's
    /// <c>BeginTransaction</c> sends the isolation level and <c>START TRANSACTION</c> as two). If a statement fails, the
    /// server stops there and the transaction is rolled back before the failure is thrown.
    /// </summary>
    /// <returns>The rows the statements changed.</returns>
    internal static async Task<int> RunTransactionAsync(DbConnection connection, SqlBatch whole, IsolationLevel isolationLevel, CancellationToken cancellationToken)
    {
        try
        {
            return await whole.ExecuteAsync(connection, transaction: null, Begin(isolationLevel), suffix: "COMMIT", cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // BEGIN ran before the failing statement: end that transaction before the connection serves anyone again.
            await RollBackAsync(connection).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Runs a transaction whose first command is <paramref name="first"/> and whose last statements, sent before the
    /// commit, are those that <paramref name="work"/> adds to the batch it is given (no retry). If a statement fails, the
    /// ones after it in the same command do not run (the server stops there), and the transaction is rolled back.
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
        var transaction = await connection.BeginTransactionAsync(isolationLevel, cancellationToken).ConfigureAwait(false);
        try
        {
            TFirst firstResult;
            try
            {
                firstResult = await first.QueryAsync(connection, transaction, prefix: null, read, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (absorbFirstFailure?.Invoke(exception) == true)
            {
                return default;
            }

            var last = new SqlBatch(first.Name);
            var result = await work(connection, transaction, firstResult, last, cancellationToken).ConfigureAwait(false);
            await last.ExecuteAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            TransactionEnd.Ended(transaction);
        }
    }

    private static string Begin(IsolationLevel isolationLevel) => isolationLevel switch
    {
        IsolationLevel.ReadCommitted => "SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\nSTART TRANSACTION;\n",
        IsolationLevel.ReadUncommitted => "SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;\nSTART TRANSACTION;\n",
        IsolationLevel.Serializable => "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nSTART TRANSACTION;\n",
        // MySqlConnector's default for BeginTransaction(), and InnoDB's.
        IsolationLevel.Unspecified or IsolationLevel.RepeatableRead => "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;\nSTART TRANSACTION;\n",
        _ => throw new NotSupportedException($"Isolation level {isolationLevel} is not supported."),
    };

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

    private static ResiliencePipeline Retry(MySqlDataSource dataSource) =>
        Retries.TryGetValue(dataSource, out var retry) ? retry : DefaultRetry;

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
}
