using System.ComponentModel.DataAnnotations;

namespace Bazaar.Caching;

/// <summary>Settings of the two-level cache, bound from the "Caching" section.</summary>
public sealed class TwoLevelCacheOptions
{
    public const string SectionName = "Caching";

    /// <summary>Off means every read goes to the loader (the database): the uncached benchmark.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Prefix of every Redis key, so services (and tests) sharing one Redis never collide.</summary>
    [Required]
    public string KeyPrefix { get; set; } = "bazaar:";

    /// <summary>Short, so that a replica that missed an invalidation (Redis down) is wrong only briefly.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan L1Ttl { get; set; } = TimeSpan.FromSeconds(10);

    [Range(1, 10_000_000)]
    public int L1MaxEntries { get; set; } = 50_000;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan L2Ttl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Each expiry is spread by up to this fraction either way so keys filled together never expire together.</summary>
    [Range(0.0, 0.5)]
    public double TtlJitter { get; set; } = 0.2;

    /// <summary>How long "absent" answers are cached (penetration guard): short, so a new row shows up soon.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan NegativeTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an expired L2 copy is kept to be served while one replica rebuilds it.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan StaleWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Lifetime of the cross-replica rebuild lock (SET NX PX); bounds how long a crashed holder blocks others.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan RebuildLockTtl { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a replica with nothing to serve waits for another replica's rebuild before loading itself.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:30")]
    public TimeSpan RebuildWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>After an invalidation, rebuilds skip writing L2 for this long, so a load that read the old row cannot put it back.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan InvalidationGuard { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Upper bound on any single Redis call; beyond it the read falls through to the database.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:30")]
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>After a Redis failure, L2 is skipped for this long instead of failing every request again.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan RedisRetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Pub/sub channel on which replicas announce invalidated keys; under the key prefix so isolated users never hear each other.</summary>
    public string InvalidationChannel => KeyPrefix + "cache:invalidations";
}
