using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Bazaar.Caching;

/// <summary>
/// Cache-aside over two levels: L1 in process (size-bounded, short TTL) and L2 in Redis (longer TTL with jitter).
/// Guards the source against penetration (absent answers are cached), breakdown (one load per key per process,
/// one rebuild per key across replicas while others serve the stale copy) and avalanche (jittered expiries).
/// A Redis outage degrades to L1 + source; it never fails a read.
/// </summary>
public sealed partial class TwoLevelCache : IDisposable
{
    private const byte AbsentMarker = 0;
    private const byte PresentMarker = 1;
    private const int HeaderLength = 9;

    private const string ReleaseLockScript =
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

    // A rebuild that started before an invalidation must not write the old row back; the guard key marks that window.
    private const string GuardedSetScript =
        "if redis.call('exists', KEYS[2]) == 1 then return 0 end redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";

    private const string InvalidateScript =
        "redis.call('del', KEYS[1]) if tonumber(ARGV[1]) > 0 then redis.call('set', KEYS[2], '1', 'PX', ARGV[1]) end " +
        "redis.call('publish', ARGV[2], ARGV[3]) return 1";

    private const string BumpVersionScript =
        "local v = redis.call('incr', KEYS[1]) redis.call('publish', ARGV[1], ARGV[2]) return v";

    private readonly TwoLevelCacheOptions _options;
    private readonly MemoryCache _l1;
    private readonly RedisLevel _l2;
    private readonly TimeProvider _time;
    private readonly ILogger<TwoLevelCache> _logger;
    private readonly JsonSerializerOptions _json = new(JsonSerializerDefaults.Web);
    private readonly ConcurrentDictionary<string, Task<CacheEntry>> _inflight = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PendingInvalidation> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _localVersions = new(StringComparer.Ordinal);
    private readonly string _instanceId = Guid.NewGuid().ToString("N");
    private long _epoch;

    public TwoLevelCache(
        IOptions<TwoLevelCacheOptions> options,
        CacheMetrics metrics,
        TimeProvider time,
        ILogger<TwoLevelCache> logger,
        IConnectionMultiplexer? redis = null)
    {
        _options = options.Value;
        Metrics = metrics;
        _time = time;
        _logger = logger;
        _l1 = new MemoryCache(new MemoryCacheOptions { SizeLimit = _options.L1MaxEntries, Clock = new TimeProviderClock(time) });
        _l2 = new RedisLevel(redis, _options, time, metrics, logger);
    }

    public CacheMetrics Metrics { get; }

    public bool Enabled => _options.Enabled;

    /// <summary>False when Redis is configured but not answering: the cache runs on L1 and the source alone.</summary>
    public bool IsL2Available => !_l2.IsConfigured || _l2.IsAvailable;

    internal RedisLevel L2 => _l2;

    internal TwoLevelCacheOptions Options => _options;

    /// <summary>
    /// Returns the cached value of <paramref name="key"/>, loading it with <paramref name="load"/> on a miss.
    /// A null from the loader means "absent" and is cached for the (shorter) negative TTL.
    /// </summary>
    public ValueTask<T?> GetOrCreateAsync<T>(string key, Func<CancellationToken, Task<T?>> load, CancellationToken cancellationToken)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(load);
        if (!_options.Enabled)
        {
            Metrics.DatabaseQuery();
            return new ValueTask<T?>(load(cancellationToken));
        }

        if (_l1.TryGetValue(key, out CacheEntry? hit) && hit is not null)
        {
            Metrics.L1Hit();
            return new ValueTask<T?>((T?)hit.Value);
        }

        Metrics.L1Miss();
        return AwaitSharedLoadAsync<T>(key, load, cancellationToken);
    }

    private async ValueTask<T?> AwaitSharedLoadAsync<T>(string key, Func<CancellationToken, Task<T?>> load, CancellationToken cancellationToken)
        where T : class
    {
        while (true)
        {
            if (_inflight.TryGetValue(key, out Task<CacheEntry>? running))
            {
                Metrics.CoalescedWait();
                CacheEntry shared = await running.WaitAsync(cancellationToken).ConfigureAwait(false);
                return (T?)shared.Value;
            }

            var owner = new TaskCompletionSource<CacheEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_inflight.TryAdd(key, owner.Task))
            {
                continue;
            }

            try
            {
                // The load is shared, so one caller's cancellation must not fail the others.
                CacheEntry entry = await LoadThroughL2Async(key, load).ConfigureAwait(false);
                owner.SetResult(entry);
                return (T?)entry.Value;
            }
            catch (Exception exception)
            {
                owner.SetException(exception);
                throw;
            }
            finally
            {
                _inflight.TryRemove(new KeyValuePair<string, Task<CacheEntry>>(key, owner.Task));
            }
        }
    }

    private async Task<CacheEntry> LoadThroughL2Async<T>(string key, Func<CancellationToken, Task<T?>> load)
        where T : class
    {
        long epoch = Interlocked.Read(ref _epoch);
        string redisKey = _options.KeyPrefix + key;

        RedisAttempt<RedisValue> read = await _l2.TryAsync("GET", db => db.StringGetAsync(redisKey)).ConfigureAwait(false);
        L2Copy? copy = read.Succeeded ? Decode<T>(read.Value) : null;
        if (copy is { Fresh: true })
        {
            Metrics.L2Hit();
            return RememberInL1(key, copy.Entry, epoch);
        }

        Metrics.L2Miss();
        if (!read.Succeeded)
        {
            return RememberInL1(key, await LoadFromSourceAsync(load).ConfigureAwait(false), epoch);
        }

        string lockKey = _options.KeyPrefix + "lock:" + key;
        string lockToken = Guid.NewGuid().ToString("N");
        RedisAttempt<bool> locked = await _l2.TryAsync("SET NX PX",
            db => db.StringSetAsync(lockKey, lockToken, _options.RebuildLockTtl, When.NotExists)).ConfigureAwait(false);

        if (locked is { Succeeded: true, Value: false })
        {
            Metrics.LockContention();
            if (copy is not null)
            {
                // Another replica is rebuilding: the expired copy is good enough for the moment it takes.
                Metrics.StaleServed();
                return copy.Entry;
            }

            CacheEntry? rebuiltElsewhere = await WaitForRebuildAsync<T>(redisKey).ConfigureAwait(false);
            if (rebuiltElsewhere is not null)
            {
                Metrics.L2Hit();
                return RememberInL1(key, rebuiltElsewhere, epoch);
            }
        }

        try
        {
            CacheEntry loaded = await LoadFromSourceAsync(load).ConfigureAwait(false);
            Metrics.Rebuild();
            await WriteL2Async(key, redisKey, loaded).ConfigureAwait(false);
            return RememberInL1(key, loaded, epoch);
        }
        finally
        {
            if (locked is { Succeeded: true, Value: true })
            {
                await _l2.TryAsync("unlock", db => db.ScriptEvaluateAsync(ReleaseLockScript,
                    [(RedisKey)lockKey], [(RedisValue)lockToken])).ConfigureAwait(false);
            }
        }
    }

    private async Task<CacheEntry> LoadFromSourceAsync<T>(Func<CancellationToken, Task<T?>> load)
        where T : class
    {
        Metrics.DatabaseQuery();
        T? value = await load(CancellationToken.None).ConfigureAwait(false);
        return value is null ? CacheEntry.Absent : new CacheEntry(value);
    }

    private async Task<CacheEntry?> WaitForRebuildAsync<T>(string redisKey)
        where T : class
    {
        long deadline = _time.GetTimestamp() + (long)(_options.RebuildWait.TotalSeconds * _time.TimestampFrequency);
        TimeSpan pollInterval = TimeSpan.FromMilliseconds(20);
        while (_time.GetTimestamp() < deadline)
        {
            await Task.Delay(pollInterval, _time).ConfigureAwait(false);
            RedisAttempt<RedisValue> read = await _l2.TryAsync("GET", db => db.StringGetAsync(redisKey)).ConfigureAwait(false);
            if (!read.Succeeded)
            {
                return null;
            }

            if (Decode<T>(read.Value) is { Fresh: true } copy)
            {
                return copy.Entry;
            }
        }

        return null;
    }

    private async Task WriteL2Async(string key, string redisKey, CacheEntry entry)
    {
        TimeSpan fresh = Jitter(entry.IsAbsent ? _options.NegativeTtl : _options.L2Ttl);
        TimeSpan keep = entry.IsAbsent ? fresh : fresh + _options.StaleWindow;
        byte[] payload = Encode(entry, _time.GetUtcNow() + fresh);
        string guardKey = _options.KeyPrefix + "guard:" + key;
        await _l2.TryAsync("SET", db => db.ScriptEvaluateAsync(GuardedSetScript,
            [(RedisKey)redisKey, (RedisKey)guardKey],
            [(RedisValue)payload, (long)keep.TotalMilliseconds])).ConfigureAwait(false);
    }

    private CacheEntry RememberInL1(string key, CacheEntry entry, long epochAtLoadStart)
    {
        // An invalidation that arrived while we loaded may concern this very value: keep it out of L1.
        if (Interlocked.Read(ref _epoch) == epochAtLoadStart)
        {
            TimeSpan ttl = Jitter(entry.IsAbsent && _options.NegativeTtl < _options.L1Ttl ? _options.NegativeTtl : _options.L1Ttl);
            _l1.Set(key, entry, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = ttl });
        }

        return entry;
    }

    /// <summary>
    /// Drops <paramref name="key"/> everywhere: here at once, in Redis, and in every replica's L1 through pub/sub.
    /// When Redis is down the invalidation is kept and replayed when it answers again.
    /// </summary>
    public async Task InvalidateAsync(string key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        DropFromL1(key);
        Metrics.Invalidation();
        if (!_options.Enabled || !_l2.IsConfigured)
        {
            return;
        }

        if (!await TryInvalidateInRedisAsync(key).ConfigureAwait(false))
        {
            _pending[key] = PendingInvalidation.Key;
        }
    }

    private async Task<bool> TryInvalidateInRedisAsync(string key)
    {
        RedisAttempt<RedisResult> done = await _l2.TryAsync("invalidate", db => db.ScriptEvaluateAsync(InvalidateScript,
            [(RedisKey)(_options.KeyPrefix + key), (RedisKey)(_options.KeyPrefix + "guard:" + key)],
            [(long)_options.InvalidationGuard.TotalMilliseconds, _options.InvalidationChannel, InvalidationMessage(key)])).ConfigureAwait(false);
        return done.Succeeded;
    }

    /// <summary>
    /// The current value of a version counter (e.g. "every product list"), to be made part of cache keys
    /// so that bumping it retires every entry built under the old value.
    /// </summary>
    public ValueTask<string> GetVersionAsync(string name, CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            return new ValueTask<string>("off");
        }

        string l1Key = VersionL1Key(name);
        if (_l1.TryGetValue(l1Key, out CacheEntry? hit) && hit?.Value is string version)
        {
            return new ValueTask<string>(version);
        }

        return ReadVersionAsync(name, l1Key, cancellationToken);
    }

    private async ValueTask<string> ReadVersionAsync(string name, string l1Key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        long epoch = Interlocked.Read(ref _epoch);
        RedisAttempt<RedisValue> read = await _l2.TryAsync("GET", db => db.StringGetAsync(_options.KeyPrefix + name)).ConfigureAwait(false);
        // Without Redis the replica numbers its own versions; the "local" form can never match a shared key.
        string version = read.Succeeded && _pending.IsEmpty
            ? (read.Value.IsNull ? "0" : (string)read.Value!)
            : "local" + _localVersions.GetOrAdd(name, 0).ToString(System.Globalization.CultureInfo.InvariantCulture);
        RememberInL1(l1Key, new CacheEntry(version), epoch);
        return version;
    }

    /// <summary>Moves a version counter on, here and on every replica.</summary>
    public async Task BumpVersionAsync(string name, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _localVersions.AddOrUpdate(name, 1, (_, v) => v + 1);
        DropFromL1(VersionL1Key(name));
        Metrics.Invalidation();
        if (!_options.Enabled || !_l2.IsConfigured)
        {
            return;
        }

        if (!await TryBumpInRedisAsync(name).ConfigureAwait(false))
        {
            _pending[name] = PendingInvalidation.Version;
        }
    }

    private async Task<bool> TryBumpInRedisAsync(string name)
    {
        RedisAttempt<RedisResult> done = await _l2.TryAsync("bump", db => db.ScriptEvaluateAsync(BumpVersionScript,
            [(RedisKey)(_options.KeyPrefix + name)],
            [_options.InvalidationChannel, InvalidationMessage(VersionL1Key(name))])).ConfigureAwait(false);
        return done.Succeeded;
    }

    private static string VersionL1Key(string name) => "version:" + name;

    // "sender key": a replica has already dropped its own keys, so it ignores its own announcements.
    private string InvalidationMessage(string key) => _instanceId + " " + key;

    /// <summary>Handles one message from the invalidation channel.</summary>
    internal void OnInvalidationMessage(string message)
    {
        int space = message.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || message.AsSpan(0, space).SequenceEqual(_instanceId))
        {
            return;
        }

        DropFromL1(message[(space + 1)..]);
    }

    /// <summary>Raised for every key invalidated here or announced by another replica (a hint that data changed).</summary>
    public event Action<string>? KeyInvalidated;

    /// <summary>Called for every invalidation heard on the channel, including our own.</summary>
    internal void DropFromL1(string key)
    {
        Interlocked.Increment(ref _epoch);
        _l1.Remove(key);
        KeyInvalidated?.Invoke(key);
    }

    /// <summary>After an outage we may have missed invalidations: forget L1 and replay what we could not send.</summary>
    internal async Task ResynchroniseAsync()
    {
        Interlocked.Increment(ref _epoch);
        _l1.Clear();
        foreach ((string key, PendingInvalidation kind) in _pending.ToArray())
        {
            bool sent = kind == PendingInvalidation.Key
                ? await TryInvalidateInRedisAsync(key).ConfigureAwait(false)
                : await TryBumpInRedisAsync(key).ConfigureAwait(false);
            if (!sent)
            {
                return;
            }

            _pending.TryRemove(new KeyValuePair<string, PendingInvalidation>(key, kind));
        }

        if (_pending.IsEmpty)
        {
            Interlocked.Increment(ref _epoch);
            _l1.Clear();
            LogResynchronised(_logger);
        }
    }

    internal bool HasPendingInvalidations => !_pending.IsEmpty;

    private TimeSpan Jitter(TimeSpan ttl)
    {
        double spread = _options.TtlJitter;
        double factor = 1 + ((Random.Shared.NextDouble() * 2) - 1) * spread;
        return TimeSpan.FromTicks(Math.Max(1, (long)(ttl.Ticks * factor)));
    }

    private byte[] Encode(CacheEntry entry, DateTimeOffset freshUntil)
    {
        byte[] json = entry.IsAbsent ? [] : JsonSerializer.SerializeToUtf8Bytes(entry.Value, entry.Value!.GetType(), _json);
        byte[] payload = new byte[HeaderLength + json.Length];
        payload[0] = entry.IsAbsent ? AbsentMarker : PresentMarker;
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(1), freshUntil.ToUnixTimeMilliseconds());
        json.CopyTo(payload.AsSpan(HeaderLength));
        return payload;
    }

    private L2Copy? Decode<T>(RedisValue value)
        where T : class
    {
        if (value.IsNull)
        {
            return null;
        }

        byte[] payload = (byte[])value!;
        if (payload.Length < HeaderLength)
        {
            return null;
        }

        long freshUntil = BinaryPrimitives.ReadInt64LittleEndian(payload.AsSpan(1));
        bool fresh = _time.GetUtcNow().ToUnixTimeMilliseconds() < freshUntil;
        try
        {
            CacheEntry entry = payload[0] == AbsentMarker
                ? CacheEntry.Absent
                : new CacheEntry(JsonSerializer.Deserialize<T>(payload.AsSpan(HeaderLength), _json));
            return new L2Copy(entry, fresh);
        }
        catch (JsonException)
        {
            // A copy written by an older shape of T: treat as a miss and let the rebuild overwrite it.
            return null;
        }
    }

    public void Dispose() => _l1.Dispose();

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Redis is back: L1 cleared and pending invalidations replayed")]
    private static partial void LogResynchronised(ILogger logger);

    private sealed record L2Copy(CacheEntry Entry, bool Fresh);

    private enum PendingInvalidation
    {
        Key,
        Version,
    }

    private sealed class TimeProviderClock(TimeProvider time) : Microsoft.Extensions.Internal.ISystemClock
    {
        public DateTimeOffset UtcNow => time.GetUtcNow();
    }
}

internal sealed record CacheEntry(object? Value)
{
    public static readonly CacheEntry Absent = new((object?)null);

    public bool IsAbsent => Value is null;
}
