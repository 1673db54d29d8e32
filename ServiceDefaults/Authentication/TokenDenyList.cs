using StackExchange.Redis;

namespace Bazaar.ServiceDefaults.Authentication;

/// <summary>
/// Access tokens revoked before their expiry (logout). Redis key scheme: <c>bazaar:auth:denied-jti:{jti}</c>
/// with value <c>1</c> and a time to live equal to the token's remaining lifetime plus clock skew, so the list
/// never outgrows the set of live tokens. auth-api writes it; every service reads it through
/// <c>AddDefaultAuthentication</c>.
/// </summary>
public sealed class TokenDenyList(IConnectionMultiplexer redis, TimeProvider time)
{
    public const string KeyPrefix = "bazaar:auth:denied-jti:";

    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan MaxPause = TimeSpan.FromMilliseconds(400);

    public static RedisKey KeyFor(string tokenId) => KeyPrefix + tokenId;

    public async Task DenyAsync(string tokenId, DateTimeOffset expiresAt, TimeSpan clockSkew)
    {
        TimeSpan remaining = expiresAt - time.GetUtcNow() + clockSkew;
        if (remaining <= TimeSpan.Zero)
        {
            return;
        }

        await redis.GetDatabase().StringSetAsync(KeyFor(tokenId), 1, remaining);
    }

    /// <summary>
    /// Whether the token was revoked. While Redis cannot be reached (no connection yet, a reconnect under way, a
    /// command timed out) the lookup is tried again, with growing pauses, for up to <paramref name="wait"/>: a blip
    /// or a multiplexer still connecting after start must not turn a valid token away. After that the last error is
    /// thrown, and the caller decides (fail closed by default). Answers are never cached, so a logout holds at once.
    /// </summary>
    public async Task<bool> IsDeniedAsync(string tokenId, TimeSpan wait, CancellationToken cancellationToken)
    {
        long started = time.GetTimestamp();
        TimeSpan pause = FirstPause;
        while (true)
        {
            try
            {
                return await redis.GetDatabase().KeyExistsAsync(KeyFor(tokenId)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisConnectionException or TimeoutException)
            {
                TimeSpan left = wait - time.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    throw;
                }

                await Task.Delay(pause < left ? pause : left, time, cancellationToken).ConfigureAwait(false);
                pause = pause * 2 < MaxPause ? pause * 2 : MaxPause;
            }
        }
    }
}
