using System.Collections.Concurrent;
using System.Globalization;
using StackExchange.Redis;

namespace Bazaar.ServiceDefaults.Authentication;

/// <summary>
/// Access tokens revoked before their expiry (logout). auth-api writes it; every service reads it through
/// <c>AddDefaultAuthentication</c>. In Redis, in one transaction per denial: the key <c>bazaar:auth:denied-jti:{jti}</c>
/// (value <c>1</c>, living as long as the token plus clock skew), the member <c>{jti}</c> of the sorted set
/// <see cref="SetKey"/> scored by the same expiry in Unix seconds (expired members are removed by the next denial), and a
/// message <c>{jti} {expiry}</c> on the channel <see cref="Channel"/>.
/// <para>
/// A reader keeps a copy in memory, so a request asks nothing of Redis: it subscribes to the channel, then loads the
/// sorted set, and only from then on answers from the copy. Redis writes the message to the subscribers in the same pass
/// of its event loop as its answer to the publisher, so a denial is on its way to every subscribed service when logout
/// returns (a request that overtakes it inside the receiving process has a window well under a millisecond; the
/// publisher's own copy has it at once). While the copy may be behind (before the first load, or once a connection to
/// Redis failed or was restored, until it is subscribed and loaded again), every lookup asks Redis for the key.
/// </para>
/// </summary>
public sealed class TokenDenyList
{
    public const string KeyPrefix = "bazaar:auth:denied-jti:";

    /// <summary>Denied token ids scored by their expiry (Unix seconds): what a reader loads when it (re)subscribes.</summary>
    public const string SetKey = "bazaar:auth:denied";

    public const string Channel = "bazaar:auth:denied";

    private static readonly RedisChannel DeniedChannel = RedisChannel.Literal(Channel);

    private const int PruneAbove = 4096;

    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan MaxPause = TimeSpan.FromMilliseconds(400);
    private static readonly TimeSpan ResyncPause = TimeSpan.FromSeconds(1);
    private static readonly Task<bool> Denied = Task.FromResult(true);
    private static readonly Task<bool> NotDenied = Task.FromResult(false);

    private readonly IConnectionMultiplexer _redis;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, long> _denied = new(StringComparer.Ordinal);
    private readonly Action<RedisChannel, RedisValue> _onDenied;
    private readonly Lock _syncGate = new();
    private bool _syncing;
    private long _nextSyncAt;

    // Incremented by every failed or restored connection (under _syncGate): a load counts only if none happened since it began.
    private int _epoch;
    private volatile bool _current;

    public TokenDenyList(IConnectionMultiplexer redis, TimeProvider time)
    {
        _redis = redis;
        _time = time;
        _onDenied = (_, message) => Remember(message);
        redis.ConnectionFailed += (_, _) => Invalidate();
        redis.ConnectionRestored += (_, _) => Invalidate();
    }

    public static RedisKey KeyFor(string tokenId) => KeyPrefix + tokenId;

    /// <summary>Whether lookups are answered from memory (subscribed and loaded, no connection failed since).</summary>
    public bool IsMirrored => _current && _redis.IsConnected;

    public async Task DenyAsync(string tokenId, DateTimeOffset expiresAt, TimeSpan clockSkew)
    {
        DateTimeOffset now = _time.GetUtcNow();
        TimeSpan remaining = expiresAt - now + clockSkew;
        if (remaining <= TimeSpan.Zero)
        {
            return;
        }

        long until = (now + remaining).ToUnixTimeSeconds();
        ITransaction denial = _redis.GetDatabase().CreateTransaction();
        _ = denial.StringSetAsync(KeyFor(tokenId), 1, remaining);
        _ = denial.SortedSetAddAsync(SetKey, tokenId, until);
        _ = denial.SortedSetRemoveRangeByScoreAsync(SetKey, double.NegativeInfinity, now.ToUnixTimeSeconds(), Exclude.Stop);
        _ = denial.PublishAsync(DeniedChannel, Message(tokenId, until));
        // Without conditions a transaction always executes: the result says nothing here, a failure throws.
        await denial.ExecuteAsync();

        // This process's own copy holds it before the caller answers, whichever of its two connections reads first.
        _denied[tokenId] = until;
    }

    /// <summary>
    /// Whether the token was revoked: from memory while the copy is current, otherwise from Redis (and a new copy is
    /// begun). While Redis cannot be reached (no connection yet, a reconnect under way, a command timed out) the lookup is
    /// tried again, with growing pauses, for up to <paramref name="wait"/>: a blip or a multiplexer still connecting after
    /// start must not turn a valid token away. After that the last error is thrown, and the caller decides (fail closed by
    /// default).
    /// </summary>
    public Task<bool> IsDeniedAsync(string tokenId, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (IsMirrored)
        {
            return _denied.ContainsKey(tokenId) ? Denied : NotDenied;
        }

        StartSync();
        return AskRedisAsync(tokenId, wait, cancellationToken);
    }

    private async Task<bool> AskRedisAsync(string tokenId, TimeSpan wait, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        TimeSpan pause = FirstPause;
        while (true)
        {
            try
            {
                return await _redis.GetDatabase().KeyExistsAsync(KeyFor(tokenId)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisConnectionException or TimeoutException)
            {
                TimeSpan left = wait - _time.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    throw;
                }

                await Task.Delay(pause < left ? pause : left, _time, cancellationToken).ConfigureAwait(false);
                pause = pause * 2 < MaxPause ? pause * 2 : MaxPause;
            }
        }
    }

    private void Invalidate()
    {
        lock (_syncGate)
        {
            _epoch++;
            _current = false;
        }
    }

    // One load at a time, at most one a second: while Redis is away every request would otherwise start one.
    private void StartSync()
    {
        int epoch;
        lock (_syncGate)
        {
            long now = _time.GetTimestamp();
            if (_syncing || now < _nextSyncAt)
            {
                return;
            }

            _syncing = true;
            _nextSyncAt = now + (long)(ResyncPause.TotalSeconds * _time.TimestampFrequency);
            epoch = _epoch;
        }

        _ = SyncAsync(epoch);
    }

    private async Task SyncAsync(int epoch)
    {
        bool loaded = false;
        try
        {
            // Subscribed first, then loaded: a denial made in between is in the set, and one made later arrives as a message.
            // Unsubscribed before, so the handler is registered once however often the copy is loaded again.
            ISubscriber subscriber = _redis.GetSubscriber();
            await subscriber.UnsubscribeAsync(DeniedChannel, _onDenied).ConfigureAwait(false);
            await subscriber.SubscribeAsync(DeniedChannel, _onDenied).ConfigureAwait(false);
            long now = _time.GetUtcNow().ToUnixTimeSeconds();
            SortedSetEntry[] denied = await _redis.GetDatabase()
                .SortedSetRangeByScoreWithScoresAsync(SetKey, now, double.PositiveInfinity).ConfigureAwait(false);
            foreach (SortedSetEntry entry in denied)
            {
                _denied[entry.Element.ToString()] = (long)entry.Score;
            }

            loaded = true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Still not current: the lookups keep asking Redis, and one of them tries again after the pause.
        }
        finally
        {
            lock (_syncGate)
            {
                _current = loaded && _epoch == epoch;
                _syncing = false;
            }
        }
    }

    private void Remember(RedisValue message)
    {
        string text = message.ToString();
        int space = text.LastIndexOf(' ');
        if (space <= 0 || !long.TryParse(text.AsSpan(space + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long until))
        {
            // Not ours: the copy can no longer be trusted to hold every denial.
            Invalidate();
            return;
        }

        _denied[text[..space]] = until;
        if (_denied.Count > PruneAbove)
        {
            long now = _time.GetUtcNow().ToUnixTimeSeconds();
            foreach (KeyValuePair<string, long> entry in _denied)
            {
                if (entry.Value < now)
                {
                    _denied.TryRemove(entry);
                }
            }
        }
    }

    private static string Message(string tokenId, long until) => string.Create(CultureInfo.InvariantCulture, $"{tokenId} {until}");
}
