using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Bazaar.Auth.Api;
using Bazaar.Auth.Api.Tokens;
using Bazaar.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bazaar.IntegrationTests.Auth;

/// <summary>auth-api in process, on its own fresh authdb in the shared MariaDB and on the shared Redis.</summary>
public sealed class AuthApiFactory : WebApplicationFactory<AuthApiEntryPoint>
{
    public const string AdminEmail = "admin@bazaar.local";
    public const string AdminPassword = "seeded-admin-password-42";
    public const string ServiceClientId = "order-api";
    public const string ServiceClientSecret = "order-api-test-secret-123";

    private readonly Dictionary<string, string?> _settings;

    private readonly TimeProvider? _time;

    private AuthApiFactory(Dictionary<string, string?> settings, TimeProvider? time)
    {
        _settings = settings;
        _time = time;
    }

    public string DatabaseConnectionString => _settings["ConnectionStrings:authdb"]!;

    public string SecretsDirectory => _settings["Auth:SecretsDirectory"]!;

    /// <summary>Every line auth-api logged, formatted, to check what it must never say.</summary>
    public ConcurrentQueue<string> Logs { get; } = new();

    /// <summary>
    /// Settings passed as configuration; <paramref name="adjust"/> may change or remove any of them (null removes).
    /// <paramref name="databaseConnectionString"/> reuses another factory's database (a restart).
    /// </summary>
    public static async Task<AuthApiFactory> StartAsync(
        Action<Dictionary<string, string?>>? adjust = null, string? databaseConnectionString = null, TimeProvider? time = null)
    {
        TestServers servers = await TestServers.SharedAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:authdb"] = databaseConnectionString ?? await servers.CreateDatabaseAsync("authdb"),
            ["ConnectionStrings:cache"] = servers.RedisConnectionString,
            ["Auth:AdminPassword"] = AdminPassword,
            ["Auth:SecretsDirectory"] = Path.Combine(Path.GetTempPath(), TestServers.UniqueName("auth-secrets")),
            [$"Auth:Clients:{ServiceClientId}:Secret"] = ServiceClientSecret,
            ["Auth:PasswordHashIterations"] = "10000",
            ["Auth:LoginRateLimit:PermitLimit"] = "100000",
        };
        foreach ((string key, string? value) in TestTokens.Settings)
        {
            settings[key] = value;
        }

        adjust?.Invoke(settings);
        var factory = new AuthApiFactory(settings, time);
        _ = factory.Server; // start now: a failing start fails here, not in the first request
        return factory;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach ((string key, string? value) in _settings)
        {
            if (value is not null)
            {
                builder.UseSetting(key, value);
            }
        }

        builder.ConfigureLogging(logging => logging.AddProvider(new CapturingLoggerProvider(Logs)));
        if (_time is not null)
        {
            builder.ConfigureTestServices(services => services.AddSingleton(_time));
        }
    }

    public HttpClient CreateClient(string accessToken)
    {
        HttpClient client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return client;
    }

    /// <summary>Registers a customer with a unique email and logs them in.</summary>
    public async Task<(string Email, string Password, TokenResponse Tokens)> RegisterAndLoginAsync(string prefix = "user")
    {
        string email = $"{TestServers.UniqueName(prefix)}@example.com";
        const string Password = "a long enough passphrase";
        using HttpClient client = CreateClient();
        HttpResponseMessage registered = await client.PostAsJsonAsync("/api/auth/register", new { email, password = Password, displayName = prefix });
        registered.EnsureSuccessStatusCode();
        return (email, Password, await LoginAsync(email, Password));
    }

    public async Task<TokenResponse> LoginAsync(string email, string password)
    {
        using HttpClient client = CreateClient();
        HttpResponseMessage response = await client.PostAsJsonAsync("/api/auth/login", new { email, password });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<TokenResponse>())!;
    }

    public Task<TokenResponse> LoginAsAdminAsync() => LoginAsync(AdminEmail, AdminPassword);

    /// <summary>The system clock plus an offset a test moves forward.</summary>
    public sealed class AdjustableClock : TimeProvider
    {
        public TimeSpan Offset { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;
    }

    private sealed class CapturingLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, lines);

        public void Dispose()
        {
        }
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}
