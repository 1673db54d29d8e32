using System.Security.Cryptography;
using System.Text;
using Bazaar.Auth.Api.Keys;
using Bazaar.ServiceDefaults.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bazaar.Auth.Api.Tokens;

/// <summary>Login, refresh and token answers: <c>{ accessToken, refreshToken, expiresIn, tokenType }</c>.</summary>
public sealed record TokenResponse(string AccessToken, string? RefreshToken, int ExpiresIn, string TokenType = "Bearer");

internal sealed record IssuedAccessToken(string Token, string TokenId, DateTimeOffset ExpiresAt);

internal sealed class TokenIssuer(
    SigningKeyRing keys,
    IOptions<AuthApiOptions> authOptions,
    IOptions<BazaarAuthenticationOptions> validationOptions,
    TimeProvider time)
{
    private static readonly JsonWebTokenHandler Handler = new();

    public Task<IssuedAccessToken> IssueUserTokenAsync(string userId, string email, string displayName, IReadOnlyList<string> roles, string sessionId, CancellationToken ct) =>
        IssueAsync(userId, authOptions.Value.AccessTokenLifetime, roles, new Dictionary<string, object>
        {
            [AuthenticationConventions.EmailClaim] = email,
            [AuthenticationConventions.NameClaim] = displayName,
            [AuthenticationConventions.SessionClaim] = sessionId,
        }, ct);

    public Task<IssuedAccessToken> IssueServiceTokenAsync(string clientId, CancellationToken ct) =>
        IssueAsync("client:" + clientId, authOptions.Value.ServiceTokenLifetime, [AuthenticationConventions.ServiceRole], new Dictionary<string, object>
        {
            [AuthenticationConventions.NameClaim] = clientId,
            ["client_id"] = clientId,
        }, ct);

    /// <summary>A refresh token is 256 random bits; only its SHA-256 is stored.</summary>
    public static (string Token, byte[] Hash) NewRefreshToken()
    {
        string token = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        return (token, HashRefreshToken(token));
    }

    public static byte[] HashRefreshToken(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private async Task<IssuedAccessToken> IssueAsync(string subject, TimeSpan lifetime, IReadOnlyList<string> roles, Dictionary<string, object> claims, CancellationToken ct)
    {
        DateTimeOffset now = time.GetUtcNow();
        DateTimeOffset expiresAt = now + lifetime;
        string tokenId = Guid.NewGuid().ToString("N");
        claims[JwtRegisteredClaimNames.Sub] = subject;
        claims[JwtRegisteredClaimNames.Jti] = tokenId;
        claims[AuthenticationConventions.RoleClaim] = roles.ToArray();
        string token = Handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = validationOptions.Value.Issuer,
            Audience = validationOptions.Value.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expiresAt.UtcDateTime,
            Claims = claims,
            SigningCredentials = await keys.GetSigningCredentialsAsync(ct),
        });
        return new IssuedAccessToken(token, tokenId, expiresAt);
    }
}
