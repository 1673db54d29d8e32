using System.Diagnostics.Metrics;

namespace Bazaar.Caching;

/// <summary>
/// Counters of the two-level cache, published on the Meter "Bazaar.Caching" and kept as plain numbers too,
/// so that a test (or an operator endpoint) can read the figures of one instance.
/// </summary>
public sealed class CacheMetrics
{
    public const string MeterName = "Bazaar.Caching";

    private static readonly KeyValuePair<string, object?> L1Tag = new("level", "l1");
    private static readonly KeyValuePair<string, object?> L2Tag = new("level", "l2");

    private readonly Counter<long> _hits;
    private readonly Counter<long> _misses;
    private readonly Counter<long> _coalesced;
    private readonly Counter<long> _rebuilds;
    private readonly Counter<long> _lockContention;
    private readonly Counter<long> _staleServed;
    private readonly Counter<long> _databaseQueries;
    private readonly Counter<long> _redisErrors;
    private readonly Counter<long> _invalidations;

    private long _l1Hits, _l1Misses, _l2Hits, _l2Misses, _coalescedWaits, _rebuildCount,
        _lockContentionCount, _staleServedCount, _databaseQueryCount, _redisErrorCount, _invalidationCount;

    public CacheMetrics(IMeterFactory meterFactory)
    {
        Meter meter = meterFactory.Create(MeterName);
        _hits = meter.CreateCounter<long>("bazaar.cache.hits", "{hit}", "Reads answered by a cache level.");
        _misses = meter.CreateCounter<long>("bazaar.cache.misses", "{miss}", "Reads a cache level could not answer.");
        _coalesced = meter.CreateCounter<long>("bazaar.cache.coalesced_waits", "{wait}", "Reads that awaited another read's load of the same key.");
        _rebuilds = meter.CreateCounter<long>("bazaar.cache.rebuilds", "{rebuild}", "Entries loaded from the source and written back.");
        _lockContention = meter.CreateCounter<long>("bazaar.cache.lock_contention", "{attempt}", "Rebuild lock attempts that found another replica holding it.");
        _staleServed = meter.CreateCounter<long>("bazaar.cache.stale_served", "{read}", "Reads answered with an expired copy while another replica rebuilt it.");
        _databaseQueries = meter.CreateCounter<long>("bazaar.cache.db_queries", "{query}", "Loads that went to the source of truth.");
        _redisErrors = meter.CreateCounter<long>("bazaar.cache.redis_errors", "{error}", "Redis calls that failed or timed out.");
        _invalidations = meter.CreateCounter<long>("bazaar.cache.invalidations", "{invalidation}", "Keys dropped because the data changed.");
    }

    public CacheStatistics Snapshot() => new(
        Interlocked.Read(ref _l1Hits), Interlocked.Read(ref _l1Misses),
        Interlocked.Read(ref _l2Hits), Interlocked.Read(ref _l2Misses),
        Interlocked.Read(ref _coalescedWaits), Interlocked.Read(ref _rebuildCount),
        Interlocked.Read(ref _lockContentionCount), Interlocked.Read(ref _staleServedCount),
        Interlocked.Read(ref _databaseQueryCount), Interlocked.Read(ref _redisErrorCount),
        Interlocked.Read(ref _invalidationCount));

    internal void L1Hit() { Interlocked.Increment(ref _l1Hits); _hits.Add(1, L1Tag); }
    internal void L1Miss() { Interlocked.Increment(ref _l1Misses); _misses.Add(1, L1Tag); }
    internal void L2Hit() { Interlocked.Increment(ref _l2Hits); _hits.Add(1, L2Tag); }
    internal void L2Miss() { Interlocked.Increment(ref _l2Misses); _misses.Add(1, L2Tag); }
    internal void CoalescedWait() { Interlocked.Increment(ref _coalescedWaits); _coalesced.Add(1); }
    internal void Rebuild() { Interlocked.Increment(ref _rebuildCount); _rebuilds.Add(1); }
    internal void LockContention() { Interlocked.Increment(ref _lockContentionCount); _lockContention.Add(1); }
    internal void StaleServed() { Interlocked.Increment(ref _staleServedCount); _staleServed.Add(1); }
    internal void DatabaseQuery() { Interlocked.Increment(ref _databaseQueryCount); _databaseQueries.Add(1); }
    internal void RedisError() { Interlocked.Increment(ref _redisErrorCount); _redisErrors.Add(1); }
    internal void Invalidation() { Interlocked.Increment(ref _invalidationCount); _invalidations.Add(1); }
}

/// <summary>The counters of one cache instance at one moment.</summary>
public sealed record CacheStatistics(
    long L1Hits, long L1Misses, long L2Hits, long L2Misses, long CoalescedWaits, long Rebuilds,
    long LockContention, long StaleServed, long DatabaseQueries, long RedisErrors, long Invalidations);
