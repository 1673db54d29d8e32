using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using Bazaar.Admin.Api;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace Bazaar.Admin.Auth;

/// <summary>The claims of the sign-in cookie: who signed in, and which server-side session holds their tokens.</summary>
public static class AdminClaims
{
    public const string Session = "bazaar:admin-session";
    public const string AdminRole = "admin";
}

/// <summary>
/// Signs admins in and out against auth-api and keeps their access tokens fresh. Only the admin role gets a session:
/// anyone else's fresh session at auth-api is revoked at once.
/// </summary>
public sealed class AdminAuthentication(IHttpClientFactory clients, AdminSessionStore sessions, TimeProvider time)
{
    public const string AuthApi = "auth-api";

    /// <summary>Refresh this long before the access token expires, so a call never leaves with one about to lapse.</summary>
    private static readonly TimeSpan RefreshMargin = TimeSpan.FromSeconds(60);

    /// <summary>A principal for the sign-in cookie, or why there is none (wrong password, not an admin, auth-api down...).</summary>
    public async Task<ApiResult<ClaimsPrincipal>> SignInAsync(string email, string password, CancellationToken cancellationToken)
    {
        ApiResult<TokenAnswer> login = await SendAsync<TokenAnswer>(HttpMethod.Post, "/api/auth/login", new { email, password }, null, cancellationToken);
        if (login.Value is not { RefreshToken: not null } tokens)
        {
            return login.Problem is { Status: 401 }
                ? new ApiProblem(401, "Wrong e-mail or password", null, ApiProblem.NoErrors)
                : login.Problem ?? new ApiProblem(502, "auth-api gave no refresh token", null, ApiProblem.NoErrors);
        }

        ApiResult<Account> me = await SendAsync<Account>(HttpMethod.Get, "/api/auth/me", null, tokens.AccessToken, cancellationToken);
        if (me.Value is not { } account || !account.Roles.Contains(AdminClaims.AdminRole, StringComparer.Ordinal))
        {
            await SendAsync<NoBody>(HttpMethod.Post, "/api/auth/logout", null, tokens.AccessToken, cancellationToken);
            return me.Problem ?? new ApiProblem(403, "Only administrators can sign in here", $"{me.Value?.Email} is not an admin.", ApiProblem.NoErrors);
        }

        AdminSession session = sessions.Add(account.Id, account.Email, account.DisplayName, Pair(tokens));
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, account.Id),
                new Claim(ClaimTypes.Name, account.DisplayName),
                new Claim(ClaimTypes.Email, account.Email),
                new Claim(ClaimTypes.Role, AdminClaims.AdminRole),
                new Claim(AdminClaims.Session, session.Id),
            ],
            CookieAuthenticationDefaults.AuthenticationScheme);
        return new ApiResult<ClaimsPrincipal>(new ClaimsPrincipal(identity), null);
    }

    /// <summary>Ends the session here and at auth-api (its refresh family is revoked, the access token deny-listed).</summary>
    public async Task SignOutAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (sessions.Remove(user.FindFirstValue(AdminClaims.Session)) is { } session)
        {
            await SendAsync<NoBody>(HttpMethod.Post, "/api/auth/logout", null, session.Tokens.AccessToken, cancellationToken);
        }
    }

    public AdminSession? SessionOf(ClaimsPrincipal user) => sessions.Find(user.FindFirstValue(AdminClaims.Session));

    /// <summary>
    /// An access token good for at least a minute, refreshed (rotating the refresh token) when needed; a problem when the
    /// session is gone or auth-api refuses the refresh (the session then ends here too).
    /// </summary>
    public async Task<ApiResult<string>> AccessTokenAsync(AdminSession session, CancellationToken cancellationToken)
    {
        if (!ExpiresSoon(session.Tokens))
        {
            return new ApiResult<string>(session.Tokens.AccessToken, null);
        }

        await session.RefreshLock.WaitAsync(cancellationToken);
        try
        {
            if (!ExpiresSoon(session.Tokens))
            {
                return new ApiResult<string>(session.Tokens.AccessToken, null);
            }

            ApiResult<TokenAnswer> refreshed = await SendAsync<TokenAnswer>(
                HttpMethod.Post, "/api/auth/refresh", new { refreshToken = session.Tokens.RefreshToken }, null, cancellationToken);
            if (refreshed.Value is { RefreshToken: not null } tokens)
            {
                session.Tokens = Pair(tokens);
                return new ApiResult<string>(tokens.AccessToken, null);
            }

            if (refreshed.Problem is { Status: 401 or 403 })
            {
                sessions.Remove(session.Id);
                return ApiProblem.SignedOut;
            }

            // auth-api is unreachable: the current token serves while it lasts.
            return time.GetUtcNow() < session.Tokens.AccessTokenExpires
                ? new ApiResult<string>(session.Tokens.AccessToken, null)
                : refreshed.Problem ?? ApiProblem.SignedOut;
        }
        finally
        {
            session.RefreshLock.Release();
        }
    }

    private bool ExpiresSoon(TokenPair tokens) => time.GetUtcNow() + RefreshMargin >= tokens.AccessTokenExpires;

    private TokenPair Pair(TokenAnswer tokens) =>
        new(tokens.AccessToken, time.GetUtcNow().AddSeconds(tokens.ExpiresIn), tokens.RefreshToken!);

    private Task<ApiResult<T>> SendAsync<T>(HttpMethod method, string path, object? body, string? accessToken, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }

        return ServiceCall.SendAsync<T>(clients.CreateClient(AuthApi), AuthApi, request, cancellationToken);
    }

    private sealed record TokenAnswer(string AccessToken, string? RefreshToken, int ExpiresIn);

    private sealed record Account(string Id, string Email, string DisplayName, IReadOnlyList<string> Roles);
}
