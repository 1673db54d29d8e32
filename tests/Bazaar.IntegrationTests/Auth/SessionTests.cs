using System.Net;
using System.Net.Http.Json;
using Bazaar.Auth.Api.Apis;
using Bazaar.Auth.Api.Tokens;
using Microsoft.AspNetCore.Mvc;

namespace Bazaar.IntegrationTests.Auth;

public sealed class SessionTests(AuthApiFixture fixture) : IClassFixture<AuthApiFixture>
{
    private readonly AuthApiFactory _api = fixture.Api;

    [Fact]
    public async Task A_customer_registers_logs_in_reads_me_refreshes_and_logs_out_after_which_the_old_access_token_is_refused()
    {
        using HttpClient anonymous = _api.CreateClient();
        string email = $"{Bazaar.Testing.TestServers.UniqueName("Flow")}@Example.COM";

        HttpResponseMessage registered = await anonymous.PostAsJsonAsync("/api/auth/register", new { email = "  " + email + " ", password = "a long enough passphrase", displayName = "Flow" });
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        UserResponse created = (await registered.Content.ReadFromJsonAsync<UserResponse>())!;
        Assert.Equal(["customer"], created.Roles);

        TokenResponse login = await _api.LoginAsync(email.ToLowerInvariant(), "a long enough passphrase");
        Assert.Equal("Bearer", login.TokenType);
        Assert.Equal(15 * 60, login.ExpiresIn);
        Assert.False(string.IsNullOrEmpty(login.RefreshToken));

        using HttpClient signedIn = _api.CreateClient(login.AccessToken);
        UserResponse me = (await signedIn.GetFromJsonAsync<UserResponse>("/api/auth/me"))!;
        Assert.Equal(created.Id, me.Id);

        HttpResponseMessage refreshed = await anonymous.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = login.RefreshToken });
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        TokenResponse next = (await refreshed.Content.ReadFromJsonAsync<TokenResponse>())!;
        Assert.NotEqual(login.RefreshToken, next.RefreshToken);

        using HttpClient refreshedClient = _api.CreateClient(next.AccessToken);
        Assert.Equal(HttpStatusCode.NoContent, (await refreshedClient.PostAsync("/api/auth/logout", null)).StatusCode);

        HttpResponseMessage afterLogout = await refreshedClient.GetAsync("/api/auth/me");
        Assert.Equal(HttpStatusCode.Unauthorized, afterLogout.StatusCode);
        Assert.Equal("application/problem+json", afterLogout.Content.Headers.ContentType?.MediaType);
        HttpResponseMessage refreshAfterLogout = await anonymous.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = next.RefreshToken });
        Assert.Equal(HttpStatusCode.Unauthorized, refreshAfterLogout.StatusCode);
    }

    [Fact]
    public async Task Presenting_a_rotated_refresh_token_again_revokes_its_whole_family()
    {
        (_, _, TokenResponse login) = await _api.RegisterAndLoginAsync("reuse");
        using HttpClient client = _api.CreateClient();

        TokenResponse rotated = (await (await client.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = login.RefreshToken })).Content.ReadFromJsonAsync<TokenResponse>())!;
        HttpResponseMessage replay = await client.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = login.RefreshToken });
        HttpResponseMessage legitimateAfterReplay = await client.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = rotated.RefreshToken });

        Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, legitimateAfterReplay.StatusCode);
    }

    [Fact]
    public async Task Two_concurrent_refreshes_with_one_token_yield_at_most_one_new_pair()
    {
        (_, _, TokenResponse login) = await _api.RegisterAndLoginAsync("race");
        using HttpClient client = _api.CreateClient();

        HttpResponseMessage[] answers = await Task.WhenAll(Enumerable.Range(0, 4)
            .Select(_ => client.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = login.RefreshToken })));

        Assert.True(answers.Count(a => a.StatusCode == HttpStatusCode.OK) <= 1);
        Assert.All(answers, a => Assert.Contains(a.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.Unauthorized }));
    }

    [Fact]
    public async Task Registering_an_email_that_differs_only_in_case_is_a_conflict_that_reveals_nothing_more()
    {
        (string email, _, _) = await _api.RegisterAndLoginAsync("dup");
        using HttpClient client = _api.CreateClient();

        HttpResponseMessage again = await client.PostAsJsonAsync("/api/auth/register", new { email = email.ToUpperInvariant(), password = "another long passphrase", displayName = "Dup" });

        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        ProblemDetails problem = (await again.Content.ReadFromJsonAsync<ProblemDetails>())!;
        Assert.DoesNotContain(email, problem.Detail ?? "", StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("not-an-email", "a long enough passphrase", "Name", "email")]
    [InlineData("someone@example.com", "short", "Name", "password")]
    [InlineData("someone@example.com", "Password123", "Name", "password")]
    [InlineData("someone@example.com", "a long enough passphrase", "", "displayName")]
    public async Task Registration_with_an_invalid_field_is_a_validation_problem_naming_that_field(string email, string password, string displayName, string field)
    {
        using HttpClient client = _api.CreateClient();

        HttpResponseMessage response = await client.PostAsJsonAsync("/api/auth/register", new { email, password, displayName });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        ValidationProblemDetails problem = (await response.Content.ReadFromJsonAsync<ValidationProblemDetails>())!;
        Assert.Equal([field], problem.Errors.Keys);
    }

    [Fact]
    public async Task A_service_client_exchanges_its_secret_for_a_short_lived_service_token_and_a_wrong_secret_is_refused()
    {
        using HttpClient client = _api.CreateClient();

        HttpResponseMessage granted = await client.PostAsync("/api/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = AuthApiFactory.ServiceClientId,
            ["client_secret"] = AuthApiFactory.ServiceClientSecret,
        }));
        HttpResponseMessage refused = await client.PostAsJsonAsync("/api/auth/token", new { clientId = AuthApiFactory.ServiceClientId, clientSecret = "not-the-secret" });

        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        TokenResponse token = (await granted.Content.ReadFromJsonAsync<TokenResponse>())!;
        Assert.Null(token.RefreshToken);
        Assert.Equal(5 * 60, token.ExpiresIn);
        Assert.Equal(["service"], ReadClaims(token.AccessToken).GetProperty("role").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    internal static System.Text.Json.JsonElement ReadClaims(string token)
    {
        string payload = token.Split('.')[1];
        return System.Text.Json.JsonDocument.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(payload)).RootElement;
    }
}
