using System.Net;
using System.Net.Http.Json;
using Bazaar.Auth.Api.Apis;
using Bazaar.Auth.Api.Keys;
using Bazaar.Auth.Api.Tokens;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Bazaar.IntegrationTests.Auth;

public sealed class KeyRotationTests
{
    [Fact]
    public async Task After_a_rotation_new_tokens_use_the_new_key_and_tokens_of_the_previous_key_keep_working()
    {
        await using AuthApiFactory api = await AuthApiFactory.StartAsync();
        (_, _, TokenResponse before) = await api.RegisterAndLoginAsync("rotation");
        TokenResponse adminToken = await api.LoginAsAdminAsync();
        using HttpClient admin = api.CreateClient(adminToken.AccessToken);

        RotatedKeyResponse rotated = (await (await admin.PostAsync("/api/auth/keys/rotate", null)).Content.ReadFromJsonAsync<RotatedKeyResponse>())!;
        JsonWebKeySetDocument published = (await api.CreateClient().GetFromJsonAsync<JsonWebKeySetDocument>("/api/auth/.well-known/jwks.json"))!;
        (_, _, TokenResponse after) = await api.RegisterAndLoginAsync("rotation");

        string previousKey = new JsonWebToken(before.AccessToken).Kid;
        Assert.NotEqual(previousKey, rotated.KeyId);
        Assert.Equal(rotated.KeyId, new JsonWebToken(after.AccessToken).Kid);
        Assert.Equal(new[] { previousKey, rotated.KeyId }.Order(), published.Keys.Select(k => k.Kid).Order());
        Assert.All(published.Keys, k => Assert.Equal(("EC", "P-256", "ES256", "sig"), (k.Kty, k.Crv, k.Alg, k.Use)));
        Assert.Equal(HttpStatusCode.OK, (await api.CreateClient(before.AccessToken).GetAsync("/api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.CreateClient(after.AccessToken).GetAsync("/api/auth/me")).StatusCode);
    }

    [Fact]
    public async Task A_key_retired_longer_ago_than_a_token_lives_is_no_longer_published()
    {
        var clock = new AuthApiFactory.AdjustableClock();
        await using AuthApiFactory api = await AuthApiFactory.StartAsync(time: clock);
        using HttpClient admin = api.CreateClient((await api.LoginAsAdminAsync()).AccessToken);
        using HttpClient anonymous = api.CreateClient();
        string first = (await anonymous.GetFromJsonAsync<JsonWebKeySetDocument>("/api/auth/.well-known/jwks.json"))!.Keys.Single().Kid;
        string second = (await (await admin.PostAsync("/api/auth/keys/rotate", null)).Content.ReadFromJsonAsync<RotatedKeyResponse>())!.KeyId;

        clock.Offset = TimeSpan.FromMinutes(14);
        IEnumerable<string> withinLifetime = (await anonymous.GetFromJsonAsync<JsonWebKeySetDocument>("/api/auth/.well-known/jwks.json"))!.Keys.Select(k => k.Kid);
        clock.Offset = TimeSpan.FromMinutes(16);
        IEnumerable<string> afterLifetime = (await anonymous.GetFromJsonAsync<JsonWebKeySetDocument>("/api/auth/.well-known/jwks.json"))!.Keys.Select(k => k.Kid);

        Assert.Equal(new[] { first, second }.Order(), withinLifetime.Order());
        Assert.Equal([second], afterLifetime);
    }
}
