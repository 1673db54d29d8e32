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

    public Task<bool> IsDeniedAsync(string tokenId) => redis.GetDatabase().KeyExistsAsync(KeyFor(tokenId));
}
