using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bazaar.Auth.Api.Apis;
using Bazaar.Data;
using Bazaar.Testing;
using Dapper;
using MySqlConnector;

namespace Bazaar.IntegrationTests.Auth;

public sealed class LoginProtectionTests(AuthApiFixture fixture) : IClassFixture<AuthApiFixture>
{
    private readonly AuthApiFactory _api = fixture.Api;

    [Fact]
    public async Task Five_failed_logins_lock_the_account_with_Retry_After_until_an_admin_unlocks_it()
    {
        (string email, string password, _) = await _api.RegisterAndLoginAsync("lockout");
        using HttpClient client = _api.CreateClient();

        for (int attempt = 1; attempt <= 5; attempt++)
        {
            HttpResponseMessage failed = await client.PostAsJsonAsync("/api/auth/login", new { email, password = "wrong password " + attempt });
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }

        HttpResponseMessage locked = await client.PostAsJsonAsync("/api/auth/login", new { email, password });
        Assert.Equal(HttpStatusCode.Locked, locked.StatusCode);
        Assert.InRange(locked.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0, 1, 15 * 60);

        using HttpClient admin = _api.CreateClient((await _api.LoginAsAdminAsync()).AccessToken);
        PaginatedItems<UserResponse> found = (await admin.GetFromJsonAsync<PaginatedItems<UserResponse>>($"/api/auth/users?q={Uri.EscapeDataString(email)}"))!;
        UserResponse user = Assert.Single(found.Data);
        Assert.NotNull(user.LockoutEnd);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PostAsync($"/api/auth/users/{user.Id}/unlock", null)).StatusCode);

        HttpResponseMessage afterUnlock = await client.PostAsJsonAsync("/api/auth/login", new { email, password });
        Assert.Equal(HttpStatusCode.OK, afterUnlock.StatusCode);
    }

    [Fact]
    public async Task Login_answers_for_an_unknown_email_and_a_known_email_with_a_wrong_password_are_indistinguishable()
    {
        // The production hash cost (not the fixture's cheap one), so that skipping the hash would show; a lockout
        // limit above the sample count, so that every sample is a full attempt.
        await using AuthApiFactory api = await AuthApiFactory.StartAsync(s =>
        {
            s.Remove("Auth:PasswordHashIterations");
            s["Auth:Lockout:MaxFailedAttempts"] = "100";
        });
        (string known, _, _) = await api.RegisterAndLoginAsync("known");
        string unknown = $"{TestServers.UniqueName("nobody")}@example.com";
        using HttpClient client = api.CreateClient();

        // Warm both paths, then time them interleaved and compare medians: the machine may be busy with other work.
        var knownTimes = new List<double>();
        var unknownTimes = new List<double>();
        string? knownBody = null;
        string? unknownBody = null;
        for (int i = 0; i < 12; i++)
        {
            (HttpResponseMessage k, double kt) = await TimedLoginAsync(client, known);
            (HttpResponseMessage u, double ut) = await TimedLoginAsync(client, unknown);
            Assert.Equal(HttpStatusCode.Unauthorized, k.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, u.StatusCode);
            knownBody = WithoutTraceId(await k.Content.ReadAsStringAsync());
            unknownBody = WithoutTraceId(await u.Content.ReadAsStringAsync());
            if (i > 0)
            {
                knownTimes.Add(kt);
                unknownTimes.Add(ut);
            }
        }

        Assert.Equal(knownBody, unknownBody);
        double knownMedian = knownTimes.Order().ElementAt(knownTimes.Count / 2);
        double unknownMedian = unknownTimes.Order().ElementAt(unknownTimes.Count / 2);
        // Without the decoy hash an unknown email answers an order of magnitude faster; allow noise, not that.
        Assert.InRange(unknownMedian / knownMedian, 0.5, 2.0);
    }

    [Fact]
    public async Task An_unknown_email_is_locked_out_like_a_known_one()
    {
        string unknown = $"{TestServers.UniqueName("ghost")}@example.com";
        using HttpClient client = _api.CreateClient();

        for (int attempt = 1; attempt <= 5; attempt++)
        {
            await client.PostAsJsonAsync("/api/auth/login", new { email = unknown, password = "whatever password" });
        }

        HttpResponseMessage sixth = await client.PostAsJsonAsync("/api/auth/login", new { email = unknown, password = "whatever password" });
        Assert.Equal(HttpStatusCode.Locked, sixth.StatusCode);
        Assert.NotNull(sixth.Headers.RetryAfter);
    }

    [Fact]
    public async Task Login_is_rate_limited_per_client_address_with_429_and_Retry_After()
    {
        await using AuthApiFactory limited = await AuthApiFactory.StartAsync(s => s["Auth:LoginRateLimit:PermitLimit"] = "3");
        using HttpClient client = limited.CreateClient();

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 4; i++)
        {
            HttpResponseMessage response = await client.PostAsJsonAsync("/api/auth/login", new { email = $"rate{i}@example.com", password = "whatever password" });
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.NotNull(response.Headers.RetryAfter);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
        }

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task A_password_hashed_with_fewer_iterations_is_rehashed_at_the_next_login()
    {
        (string email, string password, _) = await _api.RegisterAndLoginAsync("rehash");
        string before = await ReadPasswordHashAsync(_api.DatabaseConnectionString, email);

        await using AuthApiFactory stronger = await AuthApiFactory.StartAsync(
            s => s["Auth:PasswordHashIterations"] = "20000", _api.DatabaseConnectionString);
        await stronger.LoginAsync(email, password);

        string after = await ReadPasswordHashAsync(_api.DatabaseConnectionString, email);
        Assert.NotEqual(before, after);
        Assert.Equal(10_000, IterationCount(before));
        Assert.Equal(20_000, IterationCount(after));
        await stronger.LoginAsync(email, password);
    }

    private static async Task<(HttpResponseMessage, double)> TimedLoginAsync(HttpClient client, string email)
    {
        long started = Stopwatch.GetTimestamp();
        HttpResponseMessage response = await client.PostAsJsonAsync("/api/auth/login", new { email, password = "definitely wrong password" });
        return (response, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private static string WithoutTraceId(string body)
    {
        Dictionary<string, JsonElement> fields = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(body)!;
        fields.Remove("traceId");
        return JsonSerializer.Serialize(fields);
    }

    private static async Task<string> ReadPasswordHashAsync(string connectionString, string email)
    {
        await using DbConnection connection = await new MySqlDataSource(connectionString).OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<string>(
            "SELECT password_hash FROM users WHERE normalized_email = @email", new { email = email.ToLowerInvariant() }))!;
    }

    /// <summary>Identity V3 hash layout: format marker, PRF (4 bytes), iteration count (4 bytes, big-endian), ...</summary>
    private static int IterationCount(string hash)
    {
        byte[] bytes = Convert.FromBase64String(hash);
        return (bytes[5] << 24) | (bytes[6] << 16) | (bytes[7] << 8) | bytes[8];
    }
}
