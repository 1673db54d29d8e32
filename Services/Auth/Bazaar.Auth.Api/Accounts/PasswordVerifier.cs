using System.Security.Cryptography;
using Bazaar.Auth.Api.Data;
using Microsoft.AspNetCore.Identity;

namespace Bazaar.Auth.Api.Accounts;

/// <summary>
/// Verifies passwords so that an unknown email costs the same hash computation as a known one: a login answer's
/// timing must not reveal whether an account exists.
/// </summary>
internal sealed class PasswordVerifier(IPasswordHasher<UserRow> hasher)
{
    private static readonly UserRow Nobody = new("", "", "", "", "", "", "", null, default);

    private readonly Lazy<string> _decoyHash = new(() => hasher.HashPassword(Nobody, Convert.ToBase64String(RandomNumberGenerator.GetBytes(24))));

    public string Hash(UserRow user, string password) => hasher.HashPassword(user, password);

    public PasswordVerificationResult Verify(UserRow? user, string password)
    {
        if (user is null)
        {
            hasher.VerifyHashedPassword(Nobody, _decoyHash.Value, password);
            return PasswordVerificationResult.Failed;
        }

        return hasher.VerifyHashedPassword(user, user.PasswordHash, password);
    }

    /// <summary>Computed at start so the first unknown-email login is not the one that pays for it.</summary>
    public void WarmUp() => _ = _decoyHash.Value;
}
