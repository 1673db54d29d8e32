using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Bazaar.Data;
using Dapper;
using MySqlConnector;

namespace Bazaar.Messaging;

/// <summary>
/// Which of the relays over one outbox publishes: the one whose connection holds a MariaDB named lock for the outbox's
/// database (<c>GET_LOCK</c>). The server releases the lock when that connection ends, so when the leader's process dies
/// another relay takes over at its next attempt. With one publisher at a time the claims need no row locks (measured:
/// a claim with <c>FOR UPDATE SKIP LOCKED</c> cost MariaDB about 50 µs of CPU per row, about half the relay's share).
/// <para>
/// A lease lost without notice (the server restarted, the connection was cut) is found within
/// <see cref="CheckInterval"/>; until then two relays may publish the same rows, which the consumers' inbox absorbs,
/// as it does a relay's crash between publish and mark.
/// </para>
/// </summary>
internal sealed class RelayLease : IAsyncDisposable
{
    /// <summary>How often the leader confirms its connection still holds the lock.</summary>
    internal static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private static readonly SqlStatement Acquire = new("outbox.lease.acquire", "SELECT GET_LOCK(@name, 0)");
    private static readonly SqlStatement Check = new("outbox.lease.check", "SELECT IS_USED_LOCK(@name) = CONNECTION_ID()");

    private readonly MySqlDataSource _dataSource;
    private readonly TimeSpan _retryInterval;
    private readonly TimeProvider _timeProvider;
    private readonly string _name;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private DbConnection? _connection;
    private bool _leading;
    private DateTimeOffset _nextAttempt;

    public RelayLease(MySqlDataSource dataSource, TimeSpan retryInterval, TimeProvider timeProvider)
    {
        // Unpooled: the lock goes with the session, and a lease given up must end it, not hand it to the pool.
        _dataSource = dataSource.WithoutPooling();
        _retryInterval = retryInterval;
        _timeProvider = timeProvider;
        _name = LockName(dataSource.DatabaseName());
    }

    /// <summary>
    /// True while this relay leads. The leader confirms its lock every <see cref="CheckInterval"/>; a follower asks for
    /// it again at most every retry interval (the relay's poll interval), on the same connection, so a follower costs one
    /// short query that often and no connection churn.
    /// </summary>
    public async Task<bool> HoldAsync(CancellationToken cancellationToken)
    {
        var now = _timeProvider.GetUtcNow();
        if (now < _nextAttempt)
        {
            return _leading;
        }

        // One at a time, and never while the relay stops: a connection is not to be used and disposed at once.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _connection ??= await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            // A session keeps its lock until it ends, so the check fails only on a connection that broke (and throws).
            _leading = await _connection.ExecuteScalarAsync<long?>(_leading ? Check : Acquire, new { name = _name }, cancellationToken: cancellationToken)
                .ConfigureAwait(false) == 1;
            _nextAttempt = now + (_leading ? CheckInterval : _retryInterval);
            return _leading;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // The connection is gone, and the lock with it: lead no more, and ask again after the retry interval.
            await DropAsync().ConfigureAwait(false);
            _nextAttempt = now + _retryInterval;
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Gives the lease up: closing the connection ends its session, and the server releases the lock.</summary>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await DropAsync().ConfigureAwait(false);
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Named locks are server-wide and their names at most 64 characters: the database's name, hashed if too long.</summary>
    internal static string LockName(string database)
    {
        var name = "bazaar.outbox." + database;
        return name.Length <= 64 ? name : "bazaar.outbox." + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(database)))[..40];
    }

    private async ValueTask DropAsync()
    {
        var connection = _connection;
        (_connection, _leading) = (null, false);
        if (connection is not null)
        {
            try
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (DbException)
            {
                // Broken already: the server ended the session, and released the lock, when the connection broke.
            }
        }
    }
}
