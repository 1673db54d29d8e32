using System.Collections.Concurrent;
using System.Security.Cryptography;
using Bazaar.Auth.Api.Data;
using Bazaar.ServiceDefaults.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Bazaar.Auth.Api.Keys;

/// <summary>A published public key in JWKS form (RFC 7517).</summary>
public sealed record JsonWebKeyDocument(string Kty, string Crv, string X, string Y, string Kid, string Use, string Alg);

public sealed record JsonWebKeySetDocument(IReadOnlyList<JsonWebKeyDocument> Keys);

/// <summary>
/// The ES256 keys of authdb: the newest active one signs, every active key and every key retired less than a token
/// lifetime ago is published, so tokens signed before a rotation keep validating until they expire.
/// Also the <see cref="ISigningKeySource"/> of auth-api's own validation, which thus needs no HTTP call to itself.
/// </summary>
internal sealed partial class SigningKeyRing(
    SigningKeyStore store,
    IOptions<AuthApiOptions> authOptions,
    IOptions<BazaarAuthenticationOptions> validationOptions,
    TimeProvider time,
    ILogger<SigningKeyRing> logger) : ISigningKeySource
{
    private const string Algorithm = SecurityAlgorithms.EcdsaSha256;

    /// <summary>Replicas learn of a rotation made by another replica within this time.</summary>
    private static readonly TimeSpan ReloadInterval = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, ECDsaSecurityKey> _privateKeys = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private volatile Snapshot? _snapshot;

    private sealed record Snapshot(ECDsaSecurityKey Signing, IReadOnlyList<ECDsaSecurityKey> Published, DateTimeOffset LoadedAt);

    public async Task InitializeAsync(CancellationToken ct)
    {
        SigningKeyRow candidate = NewKey();
        if (await store.AddIfNoneActiveAsync(candidate, ct))
        {
            LogKeyGenerated(logger, candidate.Id);
        }

        await ReloadAsync(ct);
    }

    public async Task<string> RotateAsync(CancellationToken ct)
    {
        SigningKeyRow next = NewKey();
        await store.ReplaceActiveAsync(next, time.GetUtcNow(), ct);
        LogKeyRotated(logger, next.Id);
        await ReloadAsync(ct);
        return next.Id;
    }

    public async Task<SigningCredentials> GetSigningCredentialsAsync(CancellationToken ct)
    {
        Snapshot snapshot = await GetSnapshotAsync(ct);
        return new SigningCredentials(snapshot.Signing, Algorithm);
    }

    public async Task<JsonWebKeySetDocument> GetJsonWebKeySetAsync(CancellationToken ct)
    {
        Snapshot snapshot = await GetSnapshotAsync(ct);
        return new JsonWebKeySetDocument([.. snapshot.Published.Select(ToDocument)]);
    }

    public async Task<IReadOnlyList<SecurityKey>> GetSigningKeysAsync(CancellationToken cancellationToken)
    {
        // The validator asks when it meets an unknown key id: that may be another replica's rotation, so read the store.
        Snapshot snapshot = await ReloadAsync(cancellationToken);
        return snapshot.Published;
    }

    private async Task<Snapshot> GetSnapshotAsync(CancellationToken ct)
    {
        Snapshot? snapshot = _snapshot;
        if (snapshot is not null && time.GetUtcNow() - snapshot.LoadedAt < ReloadInterval)
        {
            return snapshot;
        }

        return await ReloadAsync(ct, force: false);
    }

    private async Task<Snapshot> ReloadAsync(CancellationToken ct, bool force = true)
    {
        Snapshot? seen = _snapshot;
        await _reloadGate.WaitAsync(ct);
        try
        {
            // Another caller reloaded while this one waited; only good enough when nothing changed in between that this caller knows of.
            if (!force && _snapshot is { } fresh && !ReferenceEquals(fresh, seen))
            {
                return fresh;
            }

            DateTimeOffset now = time.GetUtcNow();
            TimeSpan longestTokenLife = Max(authOptions.Value.AccessTokenLifetime, authOptions.Value.ServiceTokenLifetime) + validationOptions.Value.ClockSkew;
            IReadOnlyList<SigningKeyRow> rows = await store.LoadPublishedAsync(now - longestTokenLife, ct);
            List<ECDsaSecurityKey> published = [.. rows.Select(ToSecurityKey)];
            ECDsaSecurityKey signing = rows.LastOrDefault(r => r.RetiredAt is null) is { } newest
                ? ToSecurityKey(newest)
                : throw new InvalidOperationException("No active signing key in authdb; InitializeAsync creates one at start.");
            var snapshot = new Snapshot(signing, published, now);
            _snapshot = snapshot;
            return snapshot;
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    private SigningKeyRow NewKey()
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string id = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(12));
        return new SigningKeyRow(id, Algorithm, key.ExportPkcs8PrivateKey(), time.GetUtcNow().UtcDateTime, null);
    }

    private ECDsaSecurityKey ToSecurityKey(SigningKeyRow row) =>
        _privateKeys.GetOrAdd(row.Id, static (id, pkcs8) =>
        {
            // Kept for the process lifetime: a key in use by a concurrent signature must not be disposed under it.
            var ecdsa = ECDsa.Create();
            ecdsa.ImportPkcs8PrivateKey(pkcs8, out _);
            return new ECDsaSecurityKey(ecdsa) { KeyId = id };
        }, row.PrivateKey);

    private static JsonWebKeyDocument ToDocument(ECDsaSecurityKey key)
    {
        ECParameters parameters = key.ECDsa.ExportParameters(includePrivateParameters: false);
        return new JsonWebKeyDocument(
            Kty: "EC",
            Crv: "P-256",
            X: Base64UrlEncoder.Encode(parameters.Q.X),
            Y: Base64UrlEncoder.Encode(parameters.Q.Y),
            Kid: key.KeyId,
            Use: "sig",
            Alg: Algorithm);
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    [LoggerMessage(Level = LogLevel.Information, Message = "Generated the first token signing key {KeyId}")]
    private static partial void LogKeyGenerated(ILogger logger, string keyId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rotated the token signing key; new key {KeyId}, previous keys stay published until their tokens expire")]
    private static partial void LogKeyRotated(ILogger logger, string keyId);
}
