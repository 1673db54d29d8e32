using System.ComponentModel.DataAnnotations;

namespace Bazaar.ServiceDefaults.Authentication;

/// <summary>Bound from the <c>Authentication</c> section in every service, auth-api included.</summary>
public sealed class BazaarAuthenticationOptions
{
    public const string SectionName = "Authentication";

    [Required]
    public string Issuer { get; set; } = "bazaar-auth";

    [Required]
    public string Audience { get; set; } = "bazaar";

    /// <summary>Base address of auth-api; <c>http://auth-api</c> is resolved by service discovery.</summary>
    [Required]
    public Uri Authority { get; set; } = new("http://auth-api");

    [Required]
    public string JwksPath { get; set; } = "/api/auth/.well-known/jwks.json";

    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long fetched keys are trusted before they are fetched again.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan KeyRefreshInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// After a burst of 5 fetches triggered by unknown key ids, at most one more per this interval, so tokens with
    /// random kids cannot hammer auth-api. Also the floor between refreshes JwtBearer requests after a failure.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan MinimumKeyRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A public JWK (JSON) trusted in addition to auth-api's keys, for tests that mint their own tokens.
    /// Ignored in the Production environment.
    /// </summary>
    public string? TestSigningKey { get; set; }

    /// <summary>
    /// How long a request waits for the deny list while Redis cannot be reached (retrying), before
    /// <see cref="RejectWhenDenyListUnavailable"/> decides. Covers a reconnect or a slow first connection after start.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:30")]
    public TimeSpan DenyListWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>When the deny list cannot be read, refuse the token (true) rather than accept a possibly revoked one.</summary>
    public bool RejectWhenDenyListUnavailable { get; set; } = true;
}
