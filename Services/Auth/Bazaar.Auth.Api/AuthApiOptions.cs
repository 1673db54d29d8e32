using System.ComponentModel.DataAnnotations;

namespace Bazaar.Auth.Api;

/// <summary>Bound from the <c>Auth</c> section (environment: <c>Auth__AccessTokenLifetime</c>, <c>Auth__Clients__order-api__Secret</c>, ...).</summary>
public sealed class AuthApiOptions
{
    public const string SectionName = "Auth";

    [Range(typeof(TimeSpan), "00:00:30", "1.00:00:00")]
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00")]
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(14);

    [Range(typeof(TimeSpan), "00:00:30", "01:00:00")]
    public TimeSpan ServiceTokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Password of the seeded <c>admin@bazaar.local</c>; when empty one is generated into <see cref="SecretsDirectory"/>.</summary>
    public string? AdminPassword { get; set; }

    /// <summary>Where a generated admin password is written (file <c>auth-admin-password</c>). Defaults to <c>.bazaar/secrets</c> under the content root.</summary>
    public string? SecretsDirectory { get; set; }

    /// <summary>PBKDF2 iterations of <c>PasswordHasher</c>; raising it rehashes each password at its next login.</summary>
    [Range(10_000, 10_000_000)]
    public int PasswordHashIterations { get; set; } = 100_000;

    public LockoutOptions Lockout { get; set; } = new();

    public LoginRateLimitOptions LoginRateLimit { get; set; } = new();

    /// <summary>Service clients for <c>POST /api/auth/token</c>, keyed by client id.</summary>
    public Dictionary<string, ServiceClientOptions> Clients { get; set; } = new(StringComparer.Ordinal);
}

public sealed class LockoutOptions
{
    [Range(1, 1000)]
    public int MaxFailedAttempts { get; set; } = 5;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan FailureWindow { get; set; } = TimeSpan.FromMinutes(15);

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Duration { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>Per client address, on login, register, refresh and token.</summary>
public sealed class LoginRateLimitOptions
{
    [Range(1, 1_000_000)]
    public int PermitLimit { get; set; } = 20;

    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

public sealed class ServiceClientOptions
{
    public string? Secret { get; set; }
}
