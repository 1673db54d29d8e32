using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Bazaar.Auth.Api.Accounts;
using Bazaar.Auth.Api.Data;
using Bazaar.Auth.Api.Keys;
using Bazaar.Auth.Api.Tokens;
using Bazaar.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Bazaar.Auth.Api.Apis;

public static partial class AuthApi
{
    public const string RateLimitPolicy = "auth-per-client-address";

    public static RouteGroupBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        RouteGroupBuilder api = app.MapGroup("/api/auth").WithTags("Auth");

        api.MapPost("/register", RegisterAsync)
            .RequireRateLimiting(RateLimitPolicy)
            .WithName("Register")
            .WithSummary("Create a customer account")
            .WithDescription("Email is normalised; the password needs at least 10 characters and must not be a common one. A taken email is 409.");

        api.MapPost("/login", LoginAsync)
            .RequireRateLimiting(RateLimitPolicy)
            .WithName("Login")
            .WithSummary("Exchange email and password for an access and a refresh token")
            .WithDescription("Wrong credentials are 401 whether or not the email exists. 5 failures in 15 minutes lock the email for 15 minutes (423 with Retry-After).");

        api.MapPost("/refresh", RefreshAsync)
            .RequireRateLimiting(RateLimitPolicy)
            .WithName("Refresh")
            .WithSummary("Rotate a refresh token into a new token pair")
            .WithDescription("The presented refresh token stops working. Presenting an already rotated one revokes its whole family.");

        api.MapPost("/logout", LogoutAsync)
            .RequireAuthorization()
            .WithName("Logout")
            .WithSummary("End the session of the presented access token")
            .WithDescription("Revokes the session's refresh token family and deny-lists the access token until it expires.");

        api.MapGet("/me", MeAsync)
            .RequireAuthorization()
            .WithName("Me")
            .WithSummary("The account of the presented access token");

        api.MapPost("/token", ClientCredentialsAsync)
            .RequireRateLimiting(RateLimitPolicy)
            .DisableAntiforgery()
            .WithName("ClientCredentialsToken")
            .WithSummary("Issue a short-lived service token for a configured client")
            .WithDescription("Client credentials as JSON { clientId, clientSecret } or form fields client_id, client_secret (grant_type=client_credentials), or HTTP Basic. The token carries role 'service'.");

        api.MapGet("/.well-known/jwks.json", JsonWebKeySetAsync)
            .WithName("JsonWebKeySet")
            .WithSummary("The public keys that verify Bazaar tokens (RFC 7517)");

        return api;
    }

    internal static async Task<Results<Created<UserResponse>, ValidationProblem, ProblemHttpResult>> RegisterAsync(
        RegisterRequest request, [AsParameters] AuthServices services, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (!EmailAddress.TryNormalize(request.Email, out string? normalizedEmail, out string? emailError))
        {
            errors["email"] = [emailError];
        }

        if (PasswordPolicy.Check(request.Password, request.Email) is { } passwordError)
        {
            errors["password"] = [passwordError];
        }

        string displayName = request.DisplayName?.Trim() ?? "";
        if (displayName.Length is 0 or > 100)
        {
            errors["displayName"] = ["Display name is required and at most 100 characters."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var user = new UserRow(
            Id: Guid.NewGuid().ToString(),
            Email: request.Email!.Trim(),
            NormalizedEmail: normalizedEmail!,
            DisplayName: displayName,
            PasswordHash: "",
            Roles: AuthenticationConventions.CustomerRole,
            SecurityStamp: NewSecurityStamp(),
            LockoutEnd: null,
            CreatedAt: services.Time.GetUtcNow().UtcDateTime);
        user = user with { PasswordHash = services.Passwords.Hash(user, request.Password!) };

        if (!await services.Users.TryCreateAsync(user, ct))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Registration failed",
                detail: "An account cannot be created with this email.");
        }

        return TypedResults.Created($"/api/auth/users/{user.Id}", ToResponse(user));
    }

    internal static async Task<Results<Ok<TokenResponse>, ValidationProblem, ProblemHttpResult>> LoginAsync(
        LoginRequest request, [AsParameters] AuthServices services, HttpContext http, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.Email) || string.IsNullOrEmpty(request.Password))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["credentials"] = ["Email and password are required."],
            });
        }

        // An address that cannot exist takes the unknown-account path, timing included.
        string normalizedEmail = EmailAddress.TryNormalize(request.Email, out string? normalized, out _) ? normalized : request.Email.Trim().ToLowerInvariant();

        if (await services.Throttle.GetLockRemainingAsync(normalizedEmail) is { } lockRemaining)
        {
            return Locked(http, lockRemaining);
        }

        UserRow? user = await services.Users.FindByNormalizedEmailAsync(normalizedEmail, ct);
        DateTimeOffset now = services.Time.GetUtcNow();
        if (user is not null && user.IsLockedAt(now))
        {
            TimeSpan remaining = DateTime.SpecifyKind(user.LockoutEnd!.Value, DateTimeKind.Utc) - now.UtcDateTime;
            return Locked(http, remaining <= services.Options.Value.Lockout.Duration ? remaining : null);
        }

        PasswordVerificationResult verification = services.Passwords.Verify(user, request.Password);
        if (user is null || verification == PasswordVerificationResult.Failed)
        {
            bool lockedNow = await services.Throttle.RecordFailureAsync(normalizedEmail);
            if (lockedNow && user is not null)
            {
                await services.Users.SetLockoutEndAsync(user.Id, (now + services.Options.Value.Lockout.Duration).UtcDateTime, ct);
                LogAccountLockedOut(services.Logger, user.Id);
            }

            return InvalidCredentials();
        }

        if (verification == PasswordVerificationResult.SuccessRehashNeeded)
        {
            await services.Users.UpdatePasswordHashAsync(user.Id, services.Passwords.Hash(user, request.Password), ct);
        }

        await services.Throttle.ResetAsync(normalizedEmail);
        return TypedResults.Ok(await StartSessionAsync(user, services, ct));
    }

    internal static async Task<Results<Ok<TokenResponse>, ValidationProblem, ProblemHttpResult>> RefreshAsync(
        RefreshRequest request, [AsParameters] AuthServices services, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.RefreshToken))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["refreshToken"] = ["A refresh token is required."] });
        }

        DateTimeOffset now = services.Time.GetUtcNow();
        (string nextToken, byte[] nextHash) = TokenIssuer.NewRefreshToken();
        RotationResult rotation = await services.RefreshTokens.RotateAsync(
            TokenIssuer.HashRefreshToken(request.RefreshToken), nextHash, now, now + services.Options.Value.RefreshTokenLifetime, ct);

        if (rotation.Outcome == RotationOutcome.ReuseDetected)
        {
            LogRefreshTokenReuse(services.Logger, rotation.UserId!, rotation.FamilyId!);
        }

        if (rotation.Outcome != RotationOutcome.Rotated)
        {
            return InvalidRefreshToken();
        }

        UserRow? user = await services.Users.FindByIdAsync(rotation.UserId!, ct);
        if (user is null || user.IsLockedAt(now))
        {
            await services.RefreshTokens.RevokeFamilyAsync(rotation.FamilyId!, now, ct);
            return InvalidRefreshToken();
        }

        IssuedAccessToken access = await services.Tokens.IssueUserTokenAsync(user.Id, user.Email, user.DisplayName, user.RoleList, rotation.FamilyId!, ct);
        return TypedResults.Ok(new TokenResponse(access.Token, nextToken, ExpiresIn(access, now)));
    }

    internal static async Task<NoContent> LogoutAsync(ClaimsPrincipal principal, [AsParameters] AuthServices services, CancellationToken ct)
    {
        DateTimeOffset now = services.Time.GetUtcNow();
        if (principal.FindFirstValue(AuthenticationConventions.SessionClaim) is { Length: > 0 } sessionId)
        {
            await services.RefreshTokens.RevokeFamilyAsync(sessionId, now, ct);
        }

        string? tokenId = principal.FindFirstValue(JwtRegisteredClaimNames.Jti);
        if (tokenId is not null && long.TryParse(principal.FindFirstValue(JwtRegisteredClaimNames.Exp), CultureInfo.InvariantCulture, out long exp))
        {
            await services.DenyList.DenyAsync(tokenId, DateTimeOffset.FromUnixTimeSeconds(exp), services.ValidationOptions.Value.ClockSkew);
        }

        return TypedResults.NoContent();
    }

    internal static async Task<Results<Ok<UserResponse>, ProblemHttpResult>> MeAsync(ClaimsPrincipal principal, [AsParameters] AuthServices services, CancellationToken ct)
    {
        string? userId = principal.FindFirstValue(JwtRegisteredClaimNames.Sub);
        UserRow? user = userId is null ? null : await services.Users.FindByIdAsync(userId, ct);
        return user is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "The token's subject is not a user account.")
            : TypedResults.Ok(ToResponse(user));
    }

    internal static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> ClientCredentialsAsync(
        HttpContext http, [AsParameters] AuthServices services, CancellationToken ct)
    {
        ClientCredentialsRequest? credentials = await ReadClientCredentialsAsync(http.Request, ct);
        if (credentials is not { ClientId.Length: > 0, ClientSecret.Length: > 0 }
            || !services.Options.Value.Clients.TryGetValue(credentials.ClientId, out ServiceClientOptions? client)
            || string.IsNullOrEmpty(client.Secret)
            || !FixedTimeEquals(client.Secret, credentials.ClientSecret))
        {
            http.Response.Headers.WWWAuthenticate = "Basic realm=\"bazaar\"";
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Invalid client", detail: "The client id or secret is not valid.");
        }

        DateTimeOffset now = services.Time.GetUtcNow();
        IssuedAccessToken access = await services.Tokens.IssueServiceTokenAsync(credentials.ClientId, ct);
        return TypedResults.Ok(new TokenResponse(access.Token, null, ExpiresIn(access, now)));
    }

    internal static async Task<Ok<JsonWebKeySetDocument>> JsonWebKeySetAsync(SigningKeyRing keys, HttpContext http, CancellationToken ct)
    {
        // Short, because validators come back on an unknown key id anyway.
        http.Response.Headers.CacheControl = "public, max-age=60";
        return TypedResults.Ok(await keys.GetJsonWebKeySetAsync(ct));
    }

    internal static UserResponse ToResponse(UserRow user) =>
        new(user.Id, user.Email, user.DisplayName, user.RoleList,
            new DateTimeOffset(DateTime.SpecifyKind(user.CreatedAt, DateTimeKind.Utc)),
            user.LockoutEnd is { } end ? new DateTimeOffset(DateTime.SpecifyKind(end, DateTimeKind.Utc)) : null);

    internal static string NewSecurityStamp() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private static async Task<TokenResponse> StartSessionAsync(UserRow user, AuthServices services, CancellationToken ct)
    {
        DateTimeOffset now = services.Time.GetUtcNow();
        string sessionId = Guid.NewGuid().ToString();
        (string refreshToken, byte[] refreshHash) = TokenIssuer.NewRefreshToken();
        await services.RefreshTokens.CreateAsync(refreshHash, sessionId, user.Id, now, now + services.Options.Value.RefreshTokenLifetime, ct);
        IssuedAccessToken access = await services.Tokens.IssueUserTokenAsync(user.Id, user.Email, user.DisplayName, user.RoleList, sessionId, ct);
        return new TokenResponse(access.Token, refreshToken, ExpiresIn(access, now));
    }

    private static int ExpiresIn(IssuedAccessToken access, DateTimeOffset now) => (int)Math.Round((access.ExpiresAt - now).TotalSeconds);

    private static ProblemHttpResult InvalidCredentials() =>
        TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Login failed", detail: "The email or password is not correct.");

    private static ProblemHttpResult InvalidRefreshToken() =>
        TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Refresh failed", detail: "The refresh token is not valid. Log in again.");

    private static ProblemHttpResult Locked(HttpContext http, TimeSpan? retryAfter)
    {
        if (retryAfter is { } wait)
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        return TypedResults.Problem(statusCode: StatusCodes.Status423Locked, title: "Account locked", detail: "Too many failed logins, or locked by an administrator. Try again later.");
    }

    private static async Task<ClientCredentialsRequest?> ReadClientCredentialsAsync(HttpRequest request, CancellationToken ct)
    {
        string? authorization = request.Headers.Authorization;
        if (authorization is not null && authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..].Trim()));
                int colon = decoded.IndexOf(':', StringComparison.Ordinal);
                return colon < 0 ? null : new ClientCredentialsRequest(Uri.UnescapeDataString(decoded[..colon]), Uri.UnescapeDataString(decoded[(colon + 1)..]));
            }
            catch (FormatException)
            {
                return null;
            }
        }

        if (request.HasFormContentType)
        {
            IFormCollection form = await request.ReadFormAsync(ct);
            return new ClientCredentialsRequest(form["client_id"], form["client_secret"]);
        }

        if (request.HasJsonContentType())
        {
            try
            {
                return await request.ReadFromJsonAsync<ClientCredentialsRequest>(ct);
            }
            catch (System.Text.Json.JsonException)
            {
                return null;
            }
        }

        return null;
    }

    private static bool FixedTimeEquals(string expected, string actual) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(expected)), SHA256.HashData(Encoding.UTF8.GetBytes(actual)));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Account {UserId} locked after repeated failed logins")]
    private static partial void LogAccountLockedOut(ILogger logger, string userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refresh token reuse for user {UserId}: family {FamilyId} revoked")]
    private static partial void LogRefreshTokenReuse(ILogger logger, string userId, string familyId);
}
