using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bazaar.ServiceDefaults.Authentication;

/// <summary>
/// Remembers tokens that validated, for at most <see cref="MaxAge"/> and never beyond their expiry, so a client that
/// presents the same access token on every call pays for the ES256 verification and claim parsing once, not per request.
/// Only successes are remembered, keyed by the exact token text; the deny list is still checked on every request
/// (it runs after validation), so logout stays immediate. The price: a key withdrawn from the JWKS keeps opening
/// tokens already seen for up to <see cref="MaxAge"/>.
/// </summary>
internal sealed class CachingJsonWebTokenHandler(TimeProvider time) : JsonWebTokenHandler
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(60);

    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<string, Validated> _validated = new(StringComparer.Ordinal);

    /// <summary><paramref name="Identity"/> is never handed out: a ClaimsIdentity is mutable, so each hit gets a copy.</summary>
    private sealed record Validated(JsonWebToken Token, ClaimsIdentity Identity, DateTimeOffset Until);

    public bool IsKnownValid(string token) =>
        _validated.TryGetValue(token, out Validated? entry) && time.GetUtcNow() < entry.Until;

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (_validated.TryGetValue(token, out Validated? entry))
        {
            if (now < entry.Until)
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
        if (result is { IsValid: true, SecurityToken: JsonWebToken validated, ClaimsIdentity: { } identity })
        {
            DateTimeOffset expires = new(DateTime.SpecifyKind(validated.ValidTo, DateTimeKind.Utc));
            DateTimeOffset until = expires < now + MaxAge ? expires : now + MaxAge;
            MakeRoom(now);
            _validated[token] = new Validated(validated, identity.Clone(), until);
        }

        return result;
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
