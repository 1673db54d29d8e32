using System.Security.Cryptography;
using Bazaar.ServiceDefaults.Authentication;
using Bazaar.UnitTests.ServiceDefaults;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bazaar.UnitTests.Auth;

public sealed class CachingJsonWebTokenHandlerTests
{
    private static readonly ECDsaSecurityKey Key = new(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "k1" };

    private readonly ManualTimeProvider _clock = new();

    [Fact]
    public async Task A_valid_token_is_remembered_for_at_most_the_cache_lifetime_and_each_hit_gets_its_own_identity()
    {
        var handler = new CachingJsonWebTokenHandler(_clock);
        string token = Token(DateTime.UtcNow.AddHours(1));

        TokenValidationResult first = await handler.ValidateTokenAsync(token, Parameters());
        TokenValidationResult second = await handler.ValidateTokenAsync(token, Parameters());
        bool knownBefore = handler.IsKnownValid(token);
        _clock.Advance(CachingJsonWebTokenHandler.MaxAge);

        Assert.True(first.IsValid);
        Assert.True(second.IsValid);
        Assert.NotSame(first.ClaimsIdentity, second.ClaimsIdentity);
        Assert.Equal("admin", second.ClaimsIdentity.FindFirst("role")?.Value);
        Assert.True(knownBefore);
        Assert.False(handler.IsKnownValid(token));
    }

    [Fact]
    public async Task A_token_that_failed_is_not_remembered()
    {
        var handler = new CachingJsonWebTokenHandler(_clock);
        string token = Token(DateTime.UtcNow.AddMinutes(10));

        TokenValidationResult wrongAudience = await handler.ValidateTokenAsync(token, Parameters(audience: "other"));

        Assert.False(wrongAudience.IsValid);
        Assert.False(handler.IsKnownValid(token));
    }

    [Fact]
    public async Task A_token_is_remembered_no_longer_than_it_lives()
    {
        _clock.Advance(DateTimeOffset.UtcNow - _clock.GetUtcNow()); // the token's lifetime is checked against real time
        var handler = new CachingJsonWebTokenHandler(_clock);
        string token = Token(DateTime.UtcNow.AddSeconds(20));

        await handler.ValidateTokenAsync(token, Parameters());
        _clock.Advance(TimeSpan.FromSeconds(15));
        bool knownWhileAlive = handler.IsKnownValid(token);
        _clock.Advance(TimeSpan.FromSeconds(10));

        Assert.True(knownWhileAlive);
        Assert.False(handler.IsKnownValid(token));
    }

    [Fact]
    public async Task A_remembered_token_is_verified_again_once_its_key_is_no_longer_among_the_signing_keys()
    {
        var handler = new CachingJsonWebTokenHandler(_clock);
        string token = Token(DateTime.UtcNow.AddMinutes(10));
        var rotated = new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "k2" };

        TokenValidationResult first = await handler.ValidateTokenAsync(token, Parameters());
        TokenValidationResult stillPublished = await handler.ValidateTokenAsync(token, Parameters(keys: [rotated, new ECDsaSecurityKey(Key.ECDsa) { KeyId = "k1" }]));
        TokenValidationResult withdrawn = await handler.ValidateTokenAsync(token, Parameters(keys: [rotated]));

        Assert.True(first.IsValid);
        Assert.True(stillPublished.IsValid);
        Assert.False(withdrawn.IsValid);
    }

    private static string Token(DateTime expires) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "bazaar-auth",
        Audience = "bazaar",
        NotBefore = DateTime.UtcNow.AddMinutes(-1),
        IssuedAt = DateTime.UtcNow.AddMinutes(-1),
        Expires = expires,
        Claims = new Dictionary<string, object> { ["sub"] = "u1", ["jti"] = "j1", ["role"] = "admin" },
        SigningCredentials = new SigningCredentials(Key, SecurityAlgorithms.EcdsaSha256),
    });

    /// <param name="keys">The signing keys as JwtBearer passes them from the JWKS (new key objects at each fetch); null: <see cref="Key"/> itself.</param>
    private static TokenValidationParameters Parameters(string audience = "bazaar", SecurityKey[]? keys = null) => new()
    {
        ValidIssuer = "bazaar-auth",
        ValidAudience = audience,
        IssuerSigningKey = keys is null ? Key : null,
        IssuerSigningKeys = keys,
        RoleClaimType = "role",
    };
}
