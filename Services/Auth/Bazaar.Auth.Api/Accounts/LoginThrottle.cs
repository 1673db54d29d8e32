using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Bazaar.Auth.Api.Accounts;

/// <summary>
/// Counts failed logins per email in Redis, for addresses with and without an account alike, so that lockout itself
/// does not reveal which emails exist. Keys (the email is hashed, keeping addresses out of Redis):
/// <c>bazaar:auth:login-failures:{sha256}</c> (counter, expires at the end of the failure window) and
/// <c>bazaar:auth:login-lock:{sha256}</c> (present while locked).
/// </summary>
internal sealed class LoginThrottle(IConnectionMultiplexer redis, IOptions<AuthApiOptions> options)
{
    // One round trip, atomic across replicas: count, and lock on reaching the limit.
    private const string RecordFailureScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        if n >= tonumber(ARGV[2]) then
          redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
          redis.call('DEL', KEYS[1])
          return 1
        end
        return 0
        """;

    /// <summary>Time left on the lock of <paramref name="normalizedEmail"/>, or null when it is not locked.</summary>
    public async Task<TimeSpan?> GetLockRemainingAsync(string normalizedEmail)
    {
        TimeSpan? ttl = await redis.GetDatabase().KeyTimeToLiveAsync(LockKey(normalizedEmail));
        return ttl is { } remaining && remaining > TimeSpan.Zero ? remaining : null;
    }

    /// <summary>Records a failure; true when this failure locked the email.</summary>
    public async Task<bool> RecordFailureAsync(string normalizedEmail)
    {
        LockoutOptions lockout = options.Value.Lockout;
        RedisResult result = await redis.GetDatabase().ScriptEvaluateAsync(
            RecordFailureScript,
            [FailuresKey(normalizedEmail), LockKey(normalizedEmail)],
            [(long)lockout.FailureWindow.TotalMilliseconds, lockout.MaxFailedAttempts, (long)lockout.Duration.TotalMilliseconds]);
        return (int)result == 1;
    }

    public Task ResetAsync(string normalizedEmail) =>
        redis.GetDatabase().KeyDeleteAsync([FailuresKey(normalizedEmail), LockKey(normalizedEmail)]);

    private static RedisKey FailuresKey(string normalizedEmail) => "bazaar:auth:login-failures:" + Hash(normalizedEmail);

    private static RedisKey LockKey(string normalizedEmail) => "bazaar:auth:login-lock:" + Hash(normalizedEmail);

    private static string Hash(string normalizedEmail) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalizedEmail)));
}
