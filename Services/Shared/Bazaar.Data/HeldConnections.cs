using System.Data;
using System.Data.Common;

namespace Bazaar.Data;

/// <summary>
/// Open connections kept between units of work, for a component that runs transactions back to back (the outbox relay,
/// the event consumer's workers, a group-commit writer). Each pooled open through MySql.Data costs three round trips
/// before any work (a ping, <c>COM_INIT_DB</c> for the default database, and the data source's session <c>SET</c>), as
/// many as a small transaction's own work; a held connection pays them once.
/// <para>
/// A connection is kept only after its unit of work succeeded (committed). Any failure drops it, since its state is
/// unknown (a socket the server closed, a transaction half done), so the data source's retry of the unit, and every later
/// unit, gets a fresh one; a connection the failure left closed drops the idle ones too. The work must leave no
/// transaction open (InTransactionAsync commits its own). One idle for longer than <see cref="MaxIdle"/> is closed rather than reused: the server or
/// something in between may have dropped it. At most <c>capacity</c> stay open while idle; more units at once open
/// ordinary pooled connections for themselves. Safe for concurrent use.
/// </para>
/// </summary>
public sealed class HeldConnections : IAsyncDisposable
{
    /// <summary>How long a connection may sit idle and still be reused.</summary>
    public static readonly TimeSpan MaxIdle = TimeSpan.FromSeconds(30);

    private readonly MySqlDataSource _dataSource;
    private readonly int _capacity;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _lock = new();
    private readonly Stack<(DbConnection Connection, long IdleSince)> _idle = new();
    private bool _disposed;
    private int _opened;

    internal HeldConnections(MySqlDataSource dataSource, int capacity, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _dataSource = dataSource;
        _capacity = capacity;
        _timeProvider = timeProvider;
    }

    /// <summary>Connections opened so far (for tests: a held connection is opened once, not once per unit).</summary>
    internal int Opened => Volatile.Read(ref _opened);

    /// <summary>
    /// As <see cref="MySqlDataSource.InTransactionAsync{T}"/>: runs <paramref name="work"/> in one transaction and commits
    /// it, retrying the whole unit on transient failures; on a held connection when one is idle.
    /// </summary>
    public Task<T> InTransactionAsync<T>(
        Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work,
        CancellationToken cancellationToken = default,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified) =>
        WithConnectionAsync((connection, token) => MySqlDataSource.RunTransactionAsync(connection, work, isolationLevel, token), cancellationToken);

    /// <summary>
    /// A transaction in ONE round trip, on a held connection when one is idle, retried whole on transient failures: BEGIN,
    /// the statements of <paramref name="whole"/> and COMMIT go as one command. Where a statement fails, the ones after it
    /// do not run and the transaction rolls back. Returns the rows the statements changed.
    /// </summary>
    public Task<int> InTransactionAsync(SqlBatch whole, IsolationLevel isolationLevel = IsolationLevel.Unspecified, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(whole);
        return WithConnectionAsync((connection, token) => MySqlDataSource.RunTransactionAsync(connection, whole, isolationLevel, token), cancellationToken);
    }

    /// <summary>
    /// A transaction in two round trips, on a held connection when one is idle, retried whole on transient failures:
    /// the statements of <paramref name="first"/> are sent with its BEGIN, and those <paramref name="work"/> adds to the
    /// batch it is given are sent with its COMMIT; <paramref name="work"/> runs once <paramref name="first"/> succeeded,
    /// and may send commands of its own in between. Where a command fails, the statements after it in that command do
    /// not run and the transaction rolls back. When <paramref name="first"/> fails with an error that
    /// <paramref name="absorbFirstFailure"/> accepts (a duplicate key, say), the transaction is rolled back, the
    /// connection kept, and the result is <c>default</c> (<paramref name="work"/> does not run).
    /// </summary>
    public Task<T?> InTransactionAsync<T>(
        SqlBatch first,
        Func<DbConnection, DbTransaction, SqlBatch, CancellationToken, Task<T>> work,
        Func<Exception, bool>? absorbFirstFailure = null,
        IsolationLevel isolationLevel = IsolationLevel.Unspecified,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return InTransactionAsync(first, static (reader, _) => Task.FromResult(reader.RecordsAffected),
            (connection, transaction, _, last, token) => work(connection, transaction, last, token), absorbFirstFailure, isolationLevel, cancellationToken);
    }

    /// <summary>
    /// As <see cref="InTransactionAsync{T}(SqlBatch, Func{DbConnection, DbTransaction, SqlBatch, CancellationToken, Task{T}}, Func{Exception, bool}?, IsolationLevel, CancellationToken)"/>,
    /// where <paramref name="first"/> returns rows (a claim): <paramref name="read"/> reads every result set of the command
    /// that begins the transaction, and <paramref name="work"/> gets what it read.
    /// </summary>
    public Task<T?> InTransactionAsync<TFirst, T>(
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
        return WithConnectionAsync((connection, token) => MySqlDataSource.RunTransactionAsync(connection, first, read, work, absorbFirstFailure, isolationLevel, token), cancellationToken);
    }

    /// <summary>As <see cref="MySqlDataSource.WithConnectionAsync{T}"/>, on a held connection when one is idle.</summary>
    public Task<T> WithConnectionAsync<T>(Func<DbConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken = default) =>
        _dataSource.WithRetryAsync(async token =>
        {
            var connection = await TakeAsync(token).ConfigureAwait(false);
            T result;
            try
            {
                result = await work(connection, token).ConfigureAwait(false);
            }
            catch
            {
                // A connection the driver closed on the way is broken (the server restarted or dropped it): the idle
                // ones most likely are too, and a retry that took them would only fail again.
                var broken = connection.State != ConnectionState.Open;
                await connection.DisposeAsync().ConfigureAwait(false);
                if (broken)
                {
                    await CloseIdleAsync().ConfigureAwait(false);
                }

                throw;
            }

            await GiveBackAsync(connection).ConfigureAwait(false);
            return result;
        }, cancellationToken);

    private async Task<DbConnection> TakeAsync(CancellationToken cancellationToken)
    {
        var now = _timeProvider.GetTimestamp();
        List<DbConnection>? stale = null;
        DbConnection? taken = null;
        lock (_lock)
        {
            while (_idle.TryPop(out var idle))
            {
                if (_timeProvider.GetElapsedTime(idle.IdleSince, now) <= MaxIdle && idle.Connection.State == ConnectionState.Open)
                {
                    taken = idle.Connection;
                    break;
                }

                (stale ??= []).Add(idle.Connection);
            }
        }

        foreach (var connection in stale ?? [])
        {
            // Back to the driver's pool, which pings it before anyone gets it again.
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        if (taken is not null)
        {
            return taken;
        }

        var opened = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _opened);
        return opened;
    }

    private async ValueTask GiveBackAsync(DbConnection connection)
    {
        lock (_lock)
        {
            if (!_disposed && _idle.Count < _capacity && connection.State == ConnectionState.Open)
            {
                _idle.Push((connection, _timeProvider.GetTimestamp()));
                return;
            }
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Closes the idle connections; units still running close theirs when they end.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        await CloseIdleAsync().ConfigureAwait(false);
    }

    private async Task CloseIdleAsync()
    {
        DbConnection[] idle;
        lock (_lock)
        {
            idle = [.. _idle.Select(i => i.Connection)];
            _idle.Clear();
        }

        foreach (var connection in idle)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
