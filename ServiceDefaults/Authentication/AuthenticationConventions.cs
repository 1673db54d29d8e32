namespace Bazaar.ServiceDefaults.Authentication;

/// <summary>Names shared by auth-api (which issues tokens) and every service (which validates them).</summary>
public static class AuthenticationConventions
{
    public const string RoleClaim = "role";
    public const string NameClaim = "name";
    public const string EmailClaim = "email";
    public const string SessionClaim = "sid";

    public const string AdminRole = "admin";
    public const string CustomerRole = "customer";
    public const string ServiceRole = "service";

    /// <summary>Policy names equal the role names, so <c>RequireAuthorization("admin")</c> reads as intended.</summary>
    public static class Policies
    {
        public const string Admin = AdminRole;
        public const string Customer = CustomerRole;
        public const string Service = ServiceRole;
    }

    /// <summary>The named HttpClient that fetches auth-api's JWKS; service discovery resolves its base address.</summary>
    public const string JwksHttpClientName = "Bazaar.Authentication.Jwks";

    /// <summary>ES256 is what auth-api signs with; RS256 is accepted so a key type change needs no redeploy of validators.</summary>
    public static readonly IReadOnlyList<string> AcceptedAlgorithms = ["ES256", "RS256"];
}
