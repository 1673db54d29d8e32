using System.Security.Cryptography;
using Bazaar.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bazaar.IntegrationTests.Auth;

/// <summary>
/// Mints tokens that any service using <c>AddDefaultAuthentication()</c> accepts, without a running auth-api:
/// call <see cref="Configure"/> on the service's <c>IWebHostBuilder</c> (it sets <c>Authentication:TestSigningKey</c>
/// to this process's public key), then send <c>Authorization: Bearer {TestTokens.Admin()}</c>.
/// The key is generated once per test process; the setting is ignored in the Production environment.
/// </summary>
public static class TestTokens
{
    public const string KeyId = "bazaar-test-key";

    private static readonly ECDsa Key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public static ECDsaSecurityKey SigningKey { get; } = new(Key) { KeyId = KeyId };

    /// <summary>The public half as a JWK, the value of <c>Authentication:TestSigningKey</c>.</summary>
    public static string PublicJsonWebKey { get; } = PublicJwk();

    public static IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["Authentication:TestSigningKey"] = PublicJsonWebKey,
    };

    public static IWebHostBuilder Configure(IWebHostBuilder builder)
    {
        foreach ((string key, string? value) in Settings)
        {
            builder.UseSetting(key, value);
        }

        return builder;
    }

    public static string Admin(string? subject = null) => Create([AuthenticationConventions.AdminRole], subject);

    public static string Customer(string? subject = null) => Create([AuthenticationConventions.CustomerRole], subject);

    public static string Service(string clientId = "test-client") => Create([AuthenticationConventions.ServiceRole], "client:" + clientId);

    /// <summary>A token as auth-api would issue it; every parameter can be bent to forge one it would not.</summary>
    public static string Create(
        IReadOnlyList<string> roles,
        string? subject = null,
        string issuer = "bazaar-auth",
        string audience = "bazaar",
        DateTimeOffset? expires = null,
        DateTimeOffset? issuedAt = null,
        SecurityKey? signingKey = null,
        string? tokenId = null)
    {
        DateTimeOffset now = issuedAt ?? DateTimeOffset.UtcNow;
        DateTimeOffset expiresAt = expires ?? now.AddMinutes(15);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = (expiresAt < now ? expiresAt.AddMinutes(-1) : now).UtcDateTime,
            Expires = expiresAt.UtcDateTime,
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = subject ?? "test-user-" + Guid.NewGuid().ToString("N")[..8],
                [JwtRegisteredClaimNames.Jti] = tokenId ?? Guid.NewGuid().ToString("N"),
                [AuthenticationConventions.NameClaim] = "Test user",
                [AuthenticationConventions.RoleClaim] = roles.ToArray(),
            },
            SigningCredentials = new SigningCredentials(signingKey ?? SigningKey, SecurityAlgorithms.EcdsaSha256),
        });
    }

    private static string PublicJwk()
    {
        ECParameters p = Key.ExportParameters(includePrivateParameters: false);
        return $$"""{"kty":"EC","crv":"P-256","x":"{{Base64UrlEncoder.Encode(p.Q.X)}}","y":"{{Base64UrlEncoder.Encode(p.Q.Y)}}","kid":"{{KeyId}}","use":"sig","alg":"ES256"}""";
    }
}
