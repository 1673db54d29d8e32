namespace Bazaar.Auth.Api.Apis;

public sealed record RegisterRequest(string? Email, string? Password, string? DisplayName);

public sealed record LoginRequest(string? Email, string? Password);

public sealed record RefreshRequest(string? RefreshToken);

public sealed record ClientCredentialsRequest(string? ClientId, string? ClientSecret);

public sealed record SetRolesRequest(IReadOnlyList<string>? Roles);

public sealed record UserResponse(string Id, string Email, string DisplayName, IReadOnlyList<string> Roles, DateTimeOffset CreatedAt, DateTimeOffset? LockoutEnd);

public sealed record RotatedKeyResponse(string KeyId);

public sealed record PaginationRequest(int PageIndex = 0, int PageSize = 10);

public sealed record PaginatedItems<T>(int PageIndex, int PageSize, long Count, IReadOnlyList<T> Data);
