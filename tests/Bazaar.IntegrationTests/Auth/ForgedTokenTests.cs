using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Bazaar.IntegrationTests.Auth;

/// <summary>
/// AddDefaultAuthentication (here inside auth-api, trusting the TestTokens key) against the usual forgeries.
/// Each forgery is aimed at an admin route that a genuine admin token opens.
/// </summary>
public sealed class ForgedTokenTests(AuthApiFixture fixture) : IClassFixture<AuthApiFixture>
{
    private const string AdminRoute = "/api/auth/users?pageSize=1";

    private readonly AuthApiFactory _api = fixture.Api;

    [Fact]
    public async Task A_genuine_admin_token_opens_the_admin_route()
    {
        Assert.Equal(HttpStatusCode.OK, await StatusWithAsync(TestTokens.Admin()));
    }

    [Fact]
    public async Task A_token_with_alg_none_and_no_signature_is_refused()
    {
        string[] genuine = TestTokens.Admin().Split('.');
        string header = Base64UrlEncoder.Encode($$"""{"alg":"none","kid":"{{TestTokens.KeyId}}","typ":"JWT"}""");

        await AssertRefusedAsync($"{header}.{genuine[1]}.");
    }

    [Fact]
    public async Task A_token_signed_with_HS256_using_the_public_key_as_secret_is_refused()
    {
        var publicKeyAsSecret = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(TestTokens.PublicJsonWebKey)) { KeyId = TestTokens.KeyId };
        string token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "bazaar-auth",
            Audience = "bazaar",
            Expires = DateTime.UtcNow.AddMinutes(5),
            Claims = new Dictionary<string, object> { ["sub"] = "forger", ["jti"] = Guid.NewGuid().ToString("N"), ["role"] = new[] { "admin" } },
            SigningCredentials = new SigningCredentials(publicKeyAsSecret, SecurityAlgorithms.HmacSha256),
        });

        await AssertRefusedAsync(token);
    }

    [Fact]
    public async Task A_token_from_another_issuer_is_refused() =>
        await AssertRefusedAsync(TestTokens.Create(["admin"], issuer: "https://evil.example"));

    [Fact]
    public async Task A_token_for_another_audience_is_refused() =>
        await AssertRefusedAsync(TestTokens.Create(["admin"], audience: "another-system"));

    [Fact]
    public async Task An_expired_token_is_refused_beyond_the_clock_skew() =>
        await AssertRefusedAsync(TestTokens.Create(["admin"], issuedAt: DateTimeOffset.UtcNow.AddMinutes(-20), expires: DateTimeOffset.UtcNow.AddMinutes(-2)));

    [Fact]
    public async Task A_token_signed_by_an_unknown_key_is_refused()
    {
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        await AssertRefusedAsync(TestTokens.Create(["admin"], signingKey: new ECDsaSecurityKey(stranger) { KeyId = "stranger" }));
    }

    [Fact]
    public async Task A_token_signed_by_an_unknown_key_that_claims_a_trusted_key_id_is_refused()
    {
        using var impostor = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        await AssertRefusedAsync(TestTokens.Create(["admin"], signingKey: new ECDsaSecurityKey(impostor) { KeyId = TestTokens.KeyId }));
    }

    [Fact]
    public async Task A_customer_token_whose_payload_was_edited_to_admin_is_refused()
    {
        string[] parts = TestTokens.Customer().Split('.');
        string payload = Base64UrlEncoder.Decode(parts[1]).Replace("\"customer\"", "\"admin\"", StringComparison.Ordinal);

        await AssertRefusedAsync($"{parts[0]}.{Base64UrlEncoder.Encode(payload)}.{parts[2]}");
    }

    [Fact]
    public async Task A_token_without_an_id_cannot_be_revoked_and_is_refused()
    {
        string[] parts = TestTokens.Admin().Split('.');
        string header = Base64UrlEncoder.Decode(parts[0]);
        string payload = System.Text.RegularExpressions.Regex.Replace(Base64UrlEncoder.Decode(parts[1]), "\"jti\":\"[0-9a-f]+\",?", "");
        string signingInput = $"{Base64UrlEncoder.Encode(header)}.{Base64UrlEncoder.Encode(payload)}";
        byte[] signature = TestTokens.SigningKey.ECDsa.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);

        await AssertRefusedAsync($"{signingInput}.{Base64UrlEncoder.Encode(signature)}");
    }

    [Fact]
    public async Task A_malformed_bearer_value_is_a_401_not_a_500() =>
        await AssertRefusedAsync("not.a-token");

    private async Task AssertRefusedAsync(string token)
    {
        using HttpClient client = _api.CreateClient(token);
        HttpResponseMessage response = await client.GetAsync(AdminRoute);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    private async Task<HttpStatusCode> StatusWithAsync(string token)
    {
        using HttpClient client = _api.CreateClient(token);
        return (await client.GetAsync(AdminRoute)).StatusCode;
    }
}
