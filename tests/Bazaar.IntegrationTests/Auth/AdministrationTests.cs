using System.Net;
using System.Net.Http.Json;
using Bazaar.Auth.Api.Apis;
using Bazaar.Auth.Api.Tokens;

namespace Bazaar.IntegrationTests.Auth;

public sealed class AdministrationTests(AuthApiFixture fixture) : IClassFixture<AuthApiFixture>
{
    private readonly AuthApiFactory _api = fixture.Api;

    [Theory]
    [InlineData("GET", "/api/auth/users")]
    [InlineData("PUT", "/api/auth/users/x/roles")]
    [InlineData("POST", "/api/auth/users/x/lock")]
    [InlineData("POST", "/api/auth/users/x/unlock")]
    [InlineData("POST", "/api/auth/keys/rotate")]
    public async Task A_customer_token_gets_403_problem_details_on_every_admin_route(string method, string path)
    {
        (_, _, TokenResponse customer) = await _api.RegisterAndLoginAsync("nosy");
        using HttpClient client = _api.CreateClient(customer.AccessToken);

        HttpResponseMessage response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = method == "PUT" ? JsonContent.Create(new { roles = new[] { "admin" } }) : null,
        });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task An_admin_pages_through_users_and_finds_them_by_part_of_the_email()
    {
        string marker = Bazaar.Testing.TestServers.UniqueName("page");
        using HttpClient anonymous = _api.CreateClient();
        for (int i = 0; i < 3; i++)
        {
            (await anonymous.PostAsJsonAsync("/api/auth/register", new { email = $"{marker}_{i}@example.com", password = "a long enough passphrase", displayName = $"Paged {i}" })).EnsureSuccessStatusCode();
        }

        using HttpClient admin = _api.CreateClient((await _api.LoginAsAdminAsync()).AccessToken);
        PaginatedItems<UserResponse> first = (await admin.GetFromJsonAsync<PaginatedItems<UserResponse>>($"/api/auth/users?q={marker}&pageIndex=0&pageSize=2"))!;
        PaginatedItems<UserResponse> second = (await admin.GetFromJsonAsync<PaginatedItems<UserResponse>>($"/api/auth/users?q={marker}&pageIndex=1&pageSize=2"))!;
        HttpResponseMessage tooBig = await admin.GetAsync("/api/auth/users?pageSize=1000");

        Assert.Equal(3, first.Count);
        Assert.Equal(2, first.Data.Count);
        Assert.Single(second.Data);
        Assert.Equal(3, first.Data.Concat(second.Data).Select(u => u.Id).Distinct().Count());
        Assert.Equal(HttpStatusCode.BadRequest, tooBig.StatusCode);
    }

    [Fact]
    public async Task Roles_set_by_an_admin_appear_in_the_token_of_the_next_refresh()
    {
        (string email, _, TokenResponse login) = await _api.RegisterAndLoginAsync("promoted");
        using HttpClient admin = _api.CreateClient((await _api.LoginAsAdminAsync()).AccessToken);
        string id = (await admin.GetFromJsonAsync<PaginatedItems<UserResponse>>($"/api/auth/users?q={Uri.EscapeDataString(email)}"))!.Data.Single().Id;

        HttpResponseMessage set = await admin.PutAsJsonAsync($"/api/auth/users/{id}/roles", new { roles = new[] { "customer", "admin" } });
        HttpResponseMessage unknownRole = await admin.PutAsJsonAsync($"/api/auth/users/{id}/roles", new { roles = new[] { "service" } });
        HttpResponseMessage unknownUser = await admin.PutAsJsonAsync("/api/auth/users/no-such-user/roles", new { roles = new[] { "admin" } });
        using HttpClient client = _api.CreateClient();
        TokenResponse refreshed = (await (await client.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = login.RefreshToken })).Content.ReadFromJsonAsync<TokenResponse>())!;

        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unknownRole.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknownUser.StatusCode);
        Assert.Equal(["admin", "customer"], SessionTests.ReadClaims(refreshed.AccessToken).GetProperty("role").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task Locking_an_account_refuses_its_logins_and_ends_its_sessions()
    {
        (string email, string password, TokenResponse login) = await _api.RegisterAndLoginAsync("locked");
        using HttpClient admin = _api.CreateClient((await _api.LoginAsAdminAsync()).AccessToken);
        string id = (await admin.GetFromJsonAsync<PaginatedItems<UserResponse>>($"/api/auth/users?q={Uri.EscapeDataString(email)}"))!.Data.Single().Id;

        Assert.Equal(HttpStatusCode.NoContent, (await admin.PostAsync($"/api/auth/users/{id}/lock", null)).StatusCode);

        using HttpClient client = _api.CreateClient();
        Assert.Equal(HttpStatusCode.Locked, (await client.PostAsJsonAsync("/api/auth/login", new { email, password })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsJsonAsync("/api/auth/refresh", new { refreshToken = login.RefreshToken })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync("/api/auth/users/no-such-user/lock", null)).StatusCode);
    }
}
