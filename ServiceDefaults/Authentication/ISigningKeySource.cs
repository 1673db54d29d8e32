using Microsoft.IdentityModel.Tokens;

namespace Bazaar.ServiceDefaults.Authentication;

/// <summary>
/// Where validators get the keys that tokens may be signed with. Every service reads auth-api's JWKS over HTTP;
/// auth-api registers its own source (its key ring) before calling <c>AddDefaultAuthentication</c>.
/// </summary>
public interface ISigningKeySource
{
    Task<IReadOnlyList<SecurityKey>> GetSigningKeysAsync(CancellationToken cancellationToken);
}

internal sealed class JwksSigningKeySource(IHttpClientFactory httpClientFactory, Microsoft.Extensions.Options.IOptions<BazaarAuthenticationOptions> options)
    : ISigningKeySource
{
    public async Task<IReadOnlyList<SecurityKey>> GetSigningKeysAsync(CancellationToken cancellationToken)
    {
        HttpClient client = httpClientFactory.CreateClient(AuthenticationConventions.JwksHttpClientName);
        string json = await client.GetStringAsync(new Uri(options.Value.Authority, options.Value.JwksPath), cancellationToken);
        return [.. new JsonWebKeySet(json).GetSigningKeys()];
    }
}
