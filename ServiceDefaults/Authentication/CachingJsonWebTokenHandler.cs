using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bazaar.ServiceDefaults.Authentication;

/// <summary>
/// Remembers tokens that validated, for at most <see cref="MaxAge"/>, never beyond their expiry, and only while the key
/// that signed them is among the signing keys the request is validated with: a client that presents the same access token
/// on every call pays for the ES256 verification and claim parsing once, not per request. Only successes are remembered,
/// keyed by the exact token text; the deny list is still checked on every request (it runs after validation), so logout
/// stays immediate, and a key withdrawn from the JWKS stops opening tokens as soon as the keys are fetched again, cached
/// or not. (Until session 11 entries lived one minute: after any quiet minute the first request of every client paid the
/// verification again, all of them together when a peak began: 2,000 buyers in the benchmark's first second.)
/// </summary>
internal sealed class CachingJsonWebTokenHandler(TimeProvider time) : JsonWebTokenHandler
{
    /// <summary>The access tokens' lifetime (auth-api's default): longer-lived tokens are verified again after it.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(15);

    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<string, Validated> _validated = new(StringComparer.Ordinal);

    /// <summary><paramref name="Identity"/> is never handed out: a ClaimsIdentity is mutable, so each hit gets a copy.</summary>
    private sealed record Validated(JsonWebToken Token, ClaimsIdentity Identity, SecurityKey Key, DateTimeOffset Until);

    public bool IsKnownValid(string token) =>
        _validated.TryGetValue(token, out Validated? entry) && time.GetUtcNow() < entry.Until;

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (_validated.TryGetValue(token, out Validated? entry))
        {
            if (now < entry.Until && StillSigns(entry.Key, validationParameters))
            {
                return new TokenValidationResult
                {
                    IsValid = true,
                    SecurityToken = entry.Token,
                    ClaimsIdentity = entry.Identity.Clone(),
                    Issuer = entry.Token.Issuer,
                    TokenType = entry.Token.Typ,
                };
            }

            _validated.TryRemove(token, out _);
        }

        TokenValidationResult result = await base.ValidateTokenAsync(token, validationParameters);
        if (result is { IsValid: true, SecurityToken: JsonWebToken { SigningKey: { } key } validated, ClaimsIdentity: { } identity })
        {
            DateTimeOffset expires = new(DateTime.SpecifyKind(validated.ValidTo, DateTimeKind.Utc));
            DateTimeOffset until = expires < now + MaxAge ? expires : now + MaxAge;
            MakeRoom(now);
            _validated[token] = new Validated(validated, identity.Clone(), key, until);
        }

        return result;
    }

    /// <summary>
    /// Whether the key that verified a remembered token is still one the request accepts: the same key id (the JWKS is
    /// parsed into new key objects at each fetch), or the same object for a key without one.
    /// </summary>
    private static bool StillSigns(SecurityKey key, TokenValidationParameters parameters)
    {
        if (Same(key, parameters.IssuerSigningKey))
        {
            return true;
        }

        if (parameters.IssuerSigningKeys is { } keys)
        {
            foreach (SecurityKey candidate in keys)
            {
                if (Same(key, candidate))
                {
                    return true;
                }
            }
        }

        return false;

        static bool Same(SecurityKey key, SecurityKey? candidate) =>
            candidate is not null && (ReferenceEquals(key, candidate) || (key.KeyId is { } id && string.Equals(id, candidate.KeyId, StringComparison.Ordinal)));
    }

    private void MakeRoom(DateTimeOffset now)
    {
        if (_validated.Count < MaxEntries)
        {
            return;
        }

        foreach (KeyValuePair<string, Validated> stale in _validated.Where(e => e.Value.Until <= now))
        {
            _validated.TryRemove(stale);
        }

        if (_validated.Count >= MaxEntries)
        {
            _validated.Clear();
        }
    }
}
