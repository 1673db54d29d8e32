using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using System.Globalization;

namespace Bazaar.Data;

/// <summary>
/// Admits as many open connections of one driver pool as the pool holds (Max Pool Size) and queues the rest without a
/// thread each. MySql.Data 8.0.16 waits for a pooled connection by blocking the calling thread for up to Connect Timeout
/// and then throws a <c>MySqlException</c> that says nothing transient: under a burst (a thousand reservations of one
/// product) the blocked threads starved the thread pool, the holders slowed down, and the requests behind them answered
/// 500. Here a caller waits asynchronously, in arrival order, for up to the same Connect Timeout, and one that waited
/// that long gets a <see cref="DatabaseBusyException"/> (a <see cref="TimeoutException"/>: 503 with Retry-After).
/// </summary>
/// <remarks>
/// The driver keeps one pool per connection string, so there is one gate per connection string too, shared by every
/// data source of this process that uses it. A connection gives its place back when it closes (or fails to open).
/// </remarks>
internal sealed class ConnectionGate
{
    private static readonly ConcurrentDictionary<string, ConnectionGate> Gates = new(StringComparer.Ordinal);

    private readonly SemaphoreSlim _free;

    private ConnectionGate(int capacity, TimeSpan timeout)
    {
        Capacity = capacity;
        Timeout = timeout;
        _free = new SemaphoreSlim(capacity, capacity);
    }

    public int Capacity { get; }

    public TimeSpan Timeout { get; }

    /// <summary>Connections that may be opened now without waiting.</summary>
    public int Free => _free.CurrentCount;

    /// <summary>The gate of the pool for <paramref name="connectionString"/>.</summary>
    public static ConnectionGate For(string connectionString, int capacity, TimeSpan timeout) =>
        Gates.GetOrAdd(connectionString, static (_, settings) => new ConnectionGate(settings.capacity, settings.timeout), (capacity, timeout));

    /// <summary>Waits for a place, then ties it to <paramref name="connection"/>: the place is free again once the connection closes.</summary>
    public async Task<Place> EnterAsync(DbConnection connection, string database, CancellationToken cancellationToken)
    {
        if (!await _free.WaitAsync(Timeout, cancellationToken).ConfigureAwait(false))
        {
            throw new DatabaseBusyException(database, Capacity, Timeout);
        }

        return new Place(this, connection);
    }

    /// <summary>One admitted connection's place in the gate.</summary>
    internal sealed class Place
    {
        private readonly ConnectionGate _gate;
        private readonly DbConnection _connection;
        private int _held = 1;

        public Place(ConnectionGate gate, DbConnection connection)
        {
            _gate = gate;
            _connection = connection;
            connection.StateChange += OnStateChange;
        }

        /// <summary>Gives the place back (once, however often it is called).</summary>
        public void Leave()
        {
            if (Interlocked.Exchange(ref _held, 0) == 1)
            {
                _connection.StateChange -= OnStateChange;
                _gate._free.Release();
            }
        }

        private void OnStateChange(object sender, StateChangeEventArgs change)
        {
            if (change.CurrentState == ConnectionState.Closed)
            {
                Leave();
            }
        }
    }
}

/// <summary>Every connection of a database's pool stayed in use for the whole connect timeout: the database is overloaded for now.</summary>
public sealed class DatabaseBusyException(string database, int poolSize, TimeSpan waited)
    : TimeoutException(string.Create(CultureInfo.InvariantCulture,
        $"All {poolSize} connections to database '{database}' stayed in use for {waited.TotalSeconds:0.#} s."));
