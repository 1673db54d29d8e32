using System.Threading.RateLimiting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Bazaar.ServiceDefaults.Authentication;

/// <summary>
/// Feeds JwtBearer the signing keys: those of <see cref="ISigningKeySource"/>, cached for
/// <see cref="BazaarAuthenticationOptions.KeyRefreshInterval"/> and fetched again at once when a token names a key id
/// not seen yet (a rotation), plus the configured test key. A failed fetch keeps the keys it had.
/// </summary>
internal sealed partial class SigningKeyConfigurationManager : IConfigurationManager<OpenIdConnectConfiguration>, IDisposable
{
    /// <summary>Fetches for unknown key ids allowed back to back; beyond that one per minimum interval, so random kids cannot hammer auth-api.</summary>
    private const int UnknownKeyFetchBurst = 5;

    private readonly ISigningKeySource _source;
    private readonly BazaarAuthenticationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<SecurityKey> _staticKeys;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TokenBucketRateLimiter _unknownKeyFetches;

    private volatile OpenIdConnectConfiguration? _current;
    private volatile HashSet<string> _knownKeyIds = new(StringComparer.Ordinal);
    private DateTimeOffset _fetchedAt = DateTimeOffset.MinValue;
    private DateTimeOffset _lastAttemptAt = DateTimeOffset.MinValue;
    private volatile bool _refreshRequested;
    private volatile int _generation;

    public SigningKeyConfigurationManager(
        ISigningKeySource source,
        IOptions<BazaarAuthenticationOptions> options,
        IHostEnvironment environment,
        TimeProvider time,
        ILogger<SigningKeyConfigurationManager> logger)
    {
        _source = source;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _staticKeys = ReadTestKey(_options, environment, logger);
        _unknownKeyFetches = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = UnknownKeyFetchBurst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = _options.MinimumKeyRefreshInterval > TimeSpan.Zero ? _options.MinimumKeyRefreshInterval : TimeSpan.FromMilliseconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(CancellationToken cancel)
    {
        OpenIdConnectConfiguration? current = _current;
        DateTimeOffset now = _time.GetUtcNow();
        bool stale = now - _fetchedAt >= _options.KeyRefreshInterval;
        if (current is not null && !stale && !_refreshRequested)
        {
            return current;
        }

        if (current is not null && now - _lastAttemptAt < _options.MinimumKeyRefreshInterval)
        {
            return current;
        }

        return await RefreshAsync(cancel);
    }

    /// <summary>Called before validation with the token's key id so a freshly rotated key is picked up at the first token.</summary>
    public async ValueTask EnsureKeyAsync(string keyId, CancellationToken cancel)
    {
        if (_knownKeyIds.Contains(keyId))
        {
            return;
        }

        if (_current is not null)
        {
            using RateLimitLease lease = _unknownKeyFetches.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                return;
            }
        }

        await RefreshAsync(cancel);
    }

    public void RequestRefresh() => _refreshRequested = true;

    public void Dispose()
    {
        _unknownKeyFetches.Dispose();
        _gate.Dispose();
    }

    private async Task<OpenIdConnectConfiguration> RefreshAsync(CancellationToken cancel)
    {
        int generationSeen = _generation;
        await _gate.WaitAsync(cancel);
        try
        {
            // Another request refreshed while this one waited.
            if (_current is { } fresh && _generation != generationSeen)
            {
                return fresh;
            }

            _generation++;

            _lastAttemptAt = _time.GetUtcNow();
            try
            {
                IReadOnlyList<SecurityKey> keys = await _source.GetSigningKeysAsync(cancel);
                Publish([.. _staticKeys, .. keys]);
                _fetchedAt = _lastAttemptAt;
                _refreshRequested = false;
                LogKeysRefreshed(_logger, keys.Count);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancel.IsCancellationRequested)
            {
                LogKeyFetchFailed(_logger, ex);
                if (_current is null)
                {
                    Publish(_staticKeys);
                }
            }

            return _current!;
        }
        finally
        {
            _gate.Release();
        }
    }

    private void Publish(IReadOnlyList<SecurityKey> keys)
    {
        var configuration = new OpenIdConnectConfiguration { Issuer = _options.Issuer };
        foreach (SecurityKey key in keys)
        {
            configuration.SigningKeys.Add(key);
        }

        _knownKeyIds = new HashSet<string>(keys.Select(k => k.KeyId).Where(id => id is not null), StringComparer.Ordinal);
        _current = configuration;
    }

    private static IReadOnlyList<SecurityKey> ReadTestKey(BazaarAuthenticationOptions options, IHostEnvironment environment, ILogger logger)
    {
        if (string.IsNullOrWhiteSpace(options.TestSigningKey))
        {
            return [];
        }

        if (environment.IsProduction())
        {
            LogTestKeyIgnored(logger);
            return [];
        }

        return [.. new JsonWebKeySet($$"""{"keys":[{{options.TestSigningKey}}]}""").GetSigningKeys()];
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Fetched {KeyCount} token signing keys")]
    private static partial void LogKeysRefreshed(ILogger logger, int keyCount);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not fetch the token signing keys; keeping the keys already known")]
    private static partial void LogKeyFetchFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Authentication:TestSigningKey is ignored in the Production environment")]
    private static partial void LogTestKeyIgnored(ILogger logger);
}
