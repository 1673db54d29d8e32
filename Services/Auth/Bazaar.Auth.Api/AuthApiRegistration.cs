using System.Globalization;
using System.Threading.RateLimiting;
using Bazaar.Auth.Api.Accounts;
using Bazaar.Auth.Api.Apis;
using Bazaar.Auth.Api.Data;
using Bazaar.Auth.Api.Keys;
using Bazaar.Auth.Api.Tokens;
using Bazaar.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Bazaar.Auth.Api;

internal static class AuthApiRegistration
{
    public const string DatabaseName = "authdb";
    public const string CacheName = "cache";

    public static WebApplicationBuilder AddAuthApi(this WebApplicationBuilder builder)
    {
        IServiceCollection services = builder.Services;
        services.AddOptions<AuthApiOptions>()
            .BindConfiguration(AuthApiOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);

        builder.AddMySqlDataSource(DatabaseName);
        builder.AddMigrations(typeof(AuthApiRegistration).Assembly, DatabaseName);
        builder.AddRedisClient(CacheName);

        services.AddSingleton<UserStore>();
        services.AddSingleton<RefreshTokenStore>();
        services.AddSingleton<SigningKeyStore>();
        services.AddSingleton<SigningKeyRing>();
        services.AddSingleton<ISigningKeySource>(sp => sp.GetRequiredService<SigningKeyRing>());
        services.AddSingleton<TokenIssuer>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<PasswordVerifier>();
        services.AddSingleton<AdminSeeder>();
        services.AddSingleton<IPasswordHasher<UserRow>, PasswordHasher<UserRow>>();
        services.AddOptions<PasswordHasherOptions>().Configure<IOptions<AuthApiOptions>>((hasher, auth) =>
        {
            hasher.CompatibilityMode = PasswordHasherCompatibilityMode.IdentityV3;
            hasher.IterationCount = auth.Value.PasswordHashIterations;
        });
        services.AddHostedService<AuthStartup>();

        builder.AddDefaultAuthentication();
        AddRateLimiting(services);
        return builder;
    }

    private static void AddRateLimiting(IServiceCollection services)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(AuthApi.RateLimitPolicy, http =>
            {
                LoginRateLimitOptions limits = http.RequestServices.GetRequiredService<IOptions<AuthApiOptions>>().Value.LoginRateLimit;
                return RateLimitPartition.GetFixedWindowLimiter(
                    http.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = limits.PermitLimit, Window = limits.Window, QueueLimit = 0 });
            });
            limiter.OnRejected = async (context, ct) =>
            {
                if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter))
                {
                    context.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                }

                await TypedResults.Problem(
                        statusCode: StatusCodes.Status429TooManyRequests,
                        title: "Too many requests",
                        detail: "Too many attempts from this address. Try again later.")
                    .ExecuteAsync(context.HttpContext);
            };
        });
    }
}

/// <summary>First signing key and admin account, after the migrations (which run in StartingAsync) and before the server takes requests.</summary>
internal sealed class AuthStartup(SigningKeyRing keys, AdminSeeder seeder, PasswordVerifier passwords) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await keys.InitializeAsync(cancellationToken);
        await seeder.SeedAsync(cancellationToken);
        passwords.WarmUp();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
