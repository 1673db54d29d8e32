using Bazaar.Auth.Api.Data;
using Bazaar.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bazaar.Auth.Api.Apis;

public static class AdminApi
{
    private const int MaxPageSize = 100;

    private static readonly HashSet<string> AssignableRoles = new(StringComparer.Ordinal)
    {
        AuthenticationConventions.AdminRole,
        AuthenticationConventions.CustomerRole,
    };

    public static RouteGroupBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        RouteGroupBuilder api = app.MapGroup("/api/auth")
            .WithTags("Auth administration")
            .RequireAuthorization(AuthenticationConventions.Policies.Admin);

        api.MapGet("/users", ListUsersAsync)
            .WithName("ListUsers")
            .WithSummary("Page through the accounts, optionally filtered by email or display name");

        api.MapPut("/users/{id}/roles", SetRolesAsync)
            .WithName("SetUserRoles")
            .WithSummary("Replace an account's roles")
            .WithDescription("Roles: admin, customer. Effective at the account's next login or refresh.");

        api.MapPost("/users/{id}/lock", LockAsync)
            .WithName("LockUser")
            .WithSummary("Lock an account until unlocked; its sessions end at their next refresh");

        api.MapPost("/users/{id}/unlock", UnlockAsync)
            .WithName("UnlockUser")
            .WithSummary("Unlock an account, clearing an automatic lockout too");

        api.MapPost("/keys/rotate", RotateKeyAsync)
            .WithName("RotateSigningKey")
            .WithSummary("Start signing with a new key; the previous one stays published until its tokens expire");

        return api;
    }

    internal static async Task<Results<Ok<PaginatedItems<UserResponse>>, ValidationProblem>> ListUsersAsync(
        [AsParameters] PaginationRequest page, string? q, [AsParameters] AuthServices services, CancellationToken ct)
    {
        if (page.PageIndex < 0 || page.PageSize is < 1 or > MaxPageSize)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["paging"] = [$"pageIndex must be 0 or more and pageSize between 1 and {MaxPageSize}."],
            });
        }

        (long count, IReadOnlyList<UserRow> users) = await services.Users.SearchAsync(q, page.PageIndex, page.PageSize, ct);
        return TypedResults.Ok(new PaginatedItems<UserResponse>(page.PageIndex, page.PageSize, count, [.. users.Select(AuthApi.ToResponse)]));
    }

    internal static async Task<Results<Ok<UserResponse>, ValidationProblem, ProblemHttpResult>> SetRolesAsync(
        string id, SetRolesRequest request, [AsParameters] AuthServices services, CancellationToken ct)
    {
        string[] roles = [.. (request.Roles ?? []).Select(r => r?.Trim() ?? "").Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        if (roles.Length == 0 || roles.Any(r => !AssignableRoles.Contains(r)))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["roles"] = [$"At least one role, each one of: {string.Join(", ", AssignableRoles)}."],
            });
        }

        if (!await services.Users.SetRolesAsync(id, string.Join(',', roles), AuthApi.NewSecurityStamp(), ct))
        {
            return UserNotFound();
        }

        return TypedResults.Ok(AuthApi.ToResponse((await services.Users.FindByIdAsync(id, ct))!));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> LockAsync(string id, [AsParameters] AuthServices services, CancellationToken ct)
    {
        if (!await services.Users.SetLockoutEndAsync(id, DateTime.MaxValue.Date, ct))
        {
            return UserNotFound();
        }

        await services.RefreshTokens.RevokeAllOfUserAsync(id, services.Time.GetUtcNow(), ct);
        return TypedResults.NoContent();
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> UnlockAsync(string id, [AsParameters] AuthServices services, CancellationToken ct)
    {
        UserRow? user = await services.Users.FindByIdAsync(id, ct);
        if (user is null)
        {
            return UserNotFound();
        }

        await services.Users.SetLockoutEndAsync(id, null, ct);
        await services.Throttle.ResetAsync(user.NormalizedEmail);
        return TypedResults.NoContent();
    }

    internal static async Task<Ok<RotatedKeyResponse>> RotateKeyAsync([AsParameters] AuthServices services, CancellationToken ct) =>
        TypedResults.Ok(new RotatedKeyResponse(await services.Keys.RotateAsync(ct)));

    private static ProblemHttpResult UserNotFound() =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "No account has this id.");
}
