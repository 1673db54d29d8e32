using System.Security.Cryptography;
using Bazaar.ServiceDefaults.Authentication;
using Bazaar.UnitTests.ServiceDefaults;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Bazaar.UnitTests.Auth;

public sealed class SigningKeyConfigurationManagerTests
{
    private readonly ManualTimeProvider _clock = new();
    private readonly KeySource _source = new();

    [Fact]
    public async Task Keys_are_fetched_once_and_served_from_cache_within_the_refresh_interval()
    {
        using SigningKeyConfigurationManager manager = CreateManager();
        _source.Publish("k1");

        await manager.GetConfigurationAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(9));
        OpenIdConnectConfiguration configuration = await manager.GetConfigurationAsync(default);

        Assert.Equal(1, _source.Fetches);
        Assert.Equal(["k1"], configuration.SigningKeys.Select(k => k.KeyId));
        Assert.Equal("bazaar-auth", configuration.Issuer);
    }

    [Fact]
    public async Task Keys_are_fetched_again_after_the_refresh_interval()
    {
        using SigningKeyConfigurationManager manager = CreateManager();
        _source.Publish("k1");
        await manager.GetConfigurationAsync(default);

        _source.Publish("k1", "k2");
        _clock.Advance(TimeSpan.FromMinutes(10));
        OpenIdConnectConfiguration configuration = await manager.GetConfigurationAsync(default);

        Assert.Equal(2, _source.Fetches);
        Assert.Equal(["k1", "k2"], configuration.SigningKeys.Select(k => k.KeyId));
    }

    [Fact]
    public async Task A_token_naming_an_unknown_key_id_fetches_the_keys_at_once()
    {
        using SigningKeyConfigurationManager manager = CreateManager();
        _source.Publish("k1");
        await manager.EnsureKeyAsync("k1", default);

        _source.Publish("k1", "rotated");
        await manager.EnsureKeyAsync("rotated", default);
        await manager.EnsureKeyAsync("k1", default);

        Assert.Equal(2, _source.Fetches);
        Assert.Contains("rotated", (await manager.GetConfigurationAsync(default)).SigningKeys.Select(k => k.KeyId));
    }

    [Fact]
    public async Task Tokens_with_ever_new_unknown_key_ids_cause_only_a_small_burst_of_fetches()
    {
        using SigningKeyConfigurationManager manager = CreateManager();
        _source.Publish("k1");
        await manager.EnsureKeyAsync("k1", default);

        for (int i = 0; i < 50; i++)
        {
            await manager.EnsureKeyAsync("random-" + i, default);
        }

        Assert.InRange(_source.Fetches, 2, 1 + 5 + 1);
    }

    [Fact]
    public async Task A_failed_fetch_keeps_the_keys_already_known()
    {
        using SigningKeyConfigurationManager manager = CreateManager();
        _source.Publish("k1");
        await manager.GetConfigurationAsync(default);

        _source.FailNext = true;
        _clock.Advance(TimeSpan.FromMinutes(11));
        OpenIdConnectConfiguration configuration = await manager.GetConfigurationAsync(default);

        Assert.Equal(["k1"], configuration.SigningKeys.Select(k => k.KeyId));
    }

    [Fact]
    public async Task The_configured_test_key_is_trusted_beside_the_fetched_keys_outside_Production_only()
    {
        string testKey = TestJwk("test-key");
        using SigningKeyConfigurationManager development = CreateManager(Environments.Development, testKey);
        using SigningKeyConfigurationManager production = CreateManager(Environments.Production, testKey);
        _source.Publish("k1");

        IEnumerable<string> developmentKeys = (await development.GetConfigurationAsync(default)).SigningKeys.Select(k => k.KeyId);
        IEnumerable<string> productionKeys = (await production.GetConfigurationAsync(default)).SigningKeys.Select(k => k.KeyId);

        Assert.Equal(["test-key", "k1"], developmentKeys);
        Assert.Equal(["k1"], productionKeys);
    }

    private SigningKeyConfigurationManager CreateManager(string environment = "Development", string? testKey = null) =>
        new(_source,
            Options.Create(new BazaarAuthenticationOptions { TestSigningKey = testKey }),
            new HostingEnvironment { EnvironmentName = environment },
            _clock,
            NullLogger<SigningKeyConfigurationManager>.Instance);

    private static string TestJwk(string kid)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        ECParameters p = key.ExportParameters(false);
        return $$"""{"kty":"EC","crv":"P-256","x":"{{Base64UrlEncoder.Encode(p.Q.X)}}","y":"{{Base64UrlEncoder.Encode(p.Q.Y)}}","kid":"{{kid}}","use":"sig","alg":"ES256"}""";
    }

    private sealed class KeySource : ISigningKeySource
    {
        private IReadOnlyList<SecurityKey> _keys = [];

        public int Fetches { get; private set; }

        public bool FailNext { get; set; }

        public void Publish(params string[] keyIds) =>
            _keys = [.. keyIds.Select(id => new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = id })];

        public Task<IReadOnlyList<SecurityKey>> GetSigningKeysAsync(CancellationToken cancellationToken)
        {
            Fetches++;
            if (FailNext)
            {
                FailNext = false;
                throw new HttpRequestException("auth-api is down");
            }

            return Task.FromResult(_keys);
        }
    }
}
