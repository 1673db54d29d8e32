using Bazaar.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

public static partial class AuthenticationExtensions
{
    /// <summary>
    /// JWT bearer authentication against auth-api's keys (JWKS through service discovery), the Redis deny list of
    /// revoked tokens, the policies <c>admin</c>, <c>customer</c>, <c>service</c>, and 401/403 as problem details.
    /// Configuration: the <c>Authentication</c> section (<see cref="BazaarAuthenticationOptions"/>).
    /// </summary>
    public static TBuilder AddDefaultAuthentication<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        IServiceCollection services = builder.Services;

        services.AddOptions<BazaarAuthenticationOptions>()
            .BindConfiguration(BazaarAuthenticationOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.AddProblemDetails();
        // No standard resilience handler: SigningKeyConfigurationManager keeps the keys it has when a fetch fails and asks
        // again on its own schedule, while a request may be waiting on the fetch; retries would hold it up to 30 s.
#pragma warning disable EXTEXP0001 // experimental in Microsoft.Extensions.Http.Resilience 11; the documented way to opt one client out
        services.AddHttpClient(AuthenticationConventions.JwksHttpClientName, client => client.Timeout = TimeSpan.FromSeconds(10))
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        services.TryAddSingleton<ISigningKeySource, JwksSigningKeySource>();
        services.TryAddSingleton<SigningKeyConfigurationManager>();
        services.TryAddSingleton(sp => new CachingJsonWebTokenHandler(sp.GetRequiredService<TimeProvider>()) { MapInboundClaims = false });
        services.TryAddSingleton(sp => sp.GetService<IConnectionMultiplexer>() is { } redis
            ? new TokenDenyList(redis, sp.GetRequiredService<TimeProvider>())
            : null!);

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<BazaarAuthenticationOptions>, SigningKeyConfigurationManager, CachingJsonWebTokenHandler>((jwt, options, keys, handler) =>
                ConfigureJwtBearer(jwt, options.Value, keys, handler));

        services.AddAuthorizationBuilder()
            .AddPolicy(AuthenticationConventions.Policies.Admin, p => p.RequireAuthenticatedUser().RequireRole(AuthenticationConventions.AdminRole))
            .AddPolicy(AuthenticationConventions.Policies.Customer, p => p.RequireAuthenticatedUser().RequireRole(AuthenticationConventions.CustomerRole))
            .AddPolicy(AuthenticationConventions.Policies.Service, p => p.RequireAuthenticatedUser().RequireRole(AuthenticationConventions.ServiceRole));

        return builder;
    }

    private static void ConfigureJwtBearer(JwtBearerOptions jwt, BazaarAuthenticationOptions options, SigningKeyConfigurationManager keys, CachingJsonWebTokenHandler handler)
    {
        jwt.MapInboundClaims = false;
        jwt.TokenHandlers.Clear();
        jwt.TokenHandlers.Add(handler);
        jwt.RefreshOnIssuerKeyNotFound = true;
        jwt.ConfigurationManager = keys;
        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = options.Issuer,
            ValidAudience = options.Audience,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            ValidateIssuerSigningKey = true,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ClockSkew = options.ClockSkew,
            ValidAlgorithms = AuthenticationConventions.AcceptedAlgorithms,
            NameClaimType = AuthenticationConventions.NameClaim,
            RoleClaimType = AuthenticationConventions.RoleClaim,
        };
        jwt.Events = new JwtBearerEvents
        {
            OnMessageReceived = context => LoadKeyOfTokenAsync(context, keys, handler),
            OnTokenValidated = context => RejectDeniedTokenAsync(context, options),
            OnChallenge = WriteUnauthorizedAsync,
            OnForbidden = WriteForbiddenAsync,
        };
    }

    private static async Task LoadKeyOfTokenAsync(MessageReceivedContext context, SigningKeyConfigurationManager keys, CachingJsonWebTokenHandler handler)
    {
        string? authorization = context.Request.Headers.Authorization;
        if (authorization is null || !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        string token = authorization["Bearer ".Length..].Trim();
        if (handler.IsKnownValid(token) || !handler.CanReadToken(token))
        {
            return;
        }

        try
        {
            string keyId = new JsonWebToken(token).Kid;
            if (!string.IsNullOrEmpty(keyId))
            {
                await keys.EnsureKeyAsync(keyId, context.HttpContext.RequestAborted);
            }
        }
        catch (ArgumentException)
        {
            // Malformed header: the bearer handler rejects the token itself.
        }
    }

    private static async Task RejectDeniedTokenAsync(TokenValidatedContext context, BazaarAuthenticationOptions options)
    {
        string? tokenId = (context.SecurityToken as JsonWebToken)?.Id;
        if (string.IsNullOrEmpty(tokenId))
        {
            context.Fail("The token has no id (jti), so it could not be revoked.");
            return;
        }

        TokenDenyList? denyList = context.HttpContext.RequestServices.GetService<TokenDenyList>();
        if (denyList is null)
        {
            return;
        }

        try
        {
            if (await denyList.IsDeniedAsync(tokenId, options.DenyListWait, context.HttpContext.RequestAborted))
            {
                context.Fail("The token was revoked.");
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            ILogger logger = context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Bazaar.Authentication");
            LogDenyListUnavailable(logger, ex);
            if (options.RejectWhenDenyListUnavailable)
            {
                context.Fail("The revocation list is unavailable.");
            }
        }
    }

    private static async Task WriteUnauthorizedAsync(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        context.Response.Headers.WWWAuthenticate = context.AuthenticateFailure is null && context.Error is null
            ? "Bearer"
            : "Bearer error=\"invalid_token\"";
        await TypedResults.Problem(
                statusCode: StatusCodes.Status401Unauthorized,
                title: "Unauthorized",
                detail: "A valid bearer token is required.",
                type: "https://tools.ietf.org/html/rfc9110#section-15.5.2")
            .ExecuteAsync(context.HttpContext);
    }

    private static Task WriteForbiddenAsync(ForbiddenContext context) =>
        TypedResults.Problem(
                statusCode: StatusCodes.Status403Forbidden,
                title: "Forbidden",
                detail: "The token does not grant the role this resource requires.",
                type: "https://tools.ietf.org/html/rfc9110#section-15.5.4")
            .ExecuteAsync(context.HttpContext);

    [LoggerMessage(Level = LogLevel.Error, Message = "The token deny list in Redis could not be read")]
    private static partial void LogDenyListUnavailable(ILogger logger, Exception exception);
}
