using System.Data.Common;
using Bazaar.Data;
using MySqlConnector;

namespace Bazaar.Auth.Api.Data;

internal sealed record UserRow(
    string Id,
    string Email,
    string NormalizedEmail,
    string DisplayName,
    string PasswordHash,
    string Roles,
    string SecurityStamp,
    DateTime? LockoutEnd,
    DateTime CreatedAt)
{
    public IReadOnlyList<string> RoleList => Roles.Split(',', StringSplitOptions.RemoveEmptyEntries);

    public bool IsLockedAt(DateTimeOffset now) => LockoutEnd is { } end && DateTime.SpecifyKind(end, DateTimeKind.Utc) > now.UtcDateTime;
}

internal sealed class UserStore(MySqlDataSource db)
{
    private const string Columns =
        "id AS Id, email AS Email, normalized_email AS NormalizedEmail, display_name AS DisplayName, " +
        "password_hash AS PasswordHash, roles AS Roles, security_stamp AS SecurityStamp, lockout_end AS LockoutEnd, created_at AS CreatedAt";

    private const string SearchFilter = "(@pattern IS NULL OR normalized_email LIKE @pattern OR LOWER(display_name) LIKE @pattern)";

    private static readonly SqlStatement Insert = new("users.insert", """
        INSERT INTO users (id, email, normalized_email, display_name, password_hash, roles, security_stamp, lockout_end, created_at)
        VALUES (@Id, @Email, @NormalizedEmail, @DisplayName, @PasswordHash, @Roles, @SecurityStamp, @LockoutEnd, @CreatedAt)
        """);

    private static readonly SqlStatement SelectByEmail = new("users.by_email", $"SELECT {Columns} FROM users WHERE normalized_email = @normalizedEmail");
    private static readonly SqlStatement SelectById = new("users.by_id", $"SELECT {Columns} FROM users WHERE id = @id");
    private static readonly SqlStatement CountSearch = new("users.search_count", $"SELECT COUNT(*) FROM users WHERE {SearchFilter}");
    private static readonly SqlStatement SelectSearchPage = new("users.search_page",
        $"SELECT {Columns} FROM users WHERE {SearchFilter} ORDER BY created_at, id LIMIT @pageSize OFFSET @offset");
    private static readonly SqlStatement UpdatePasswordHash = new("users.update_password_hash", "UPDATE users SET password_hash = @passwordHash WHERE id = @id");
    private static readonly SqlStatement UpdateRoles = new("users.update_roles", "UPDATE users SET roles = @roles, security_stamp = @securityStamp WHERE id = @id");
    private static readonly SqlStatement UpdateLockoutEnd = new("users.update_lockout_end", "UPDATE users SET lockout_end = @lockoutEnd WHERE id = @id");
    private static readonly SqlStatement Exists = new("users.exists", "SELECT COUNT(*) FROM users WHERE id = @id");

    /// <summary>False when the normalised email is taken (the unique index decides, so two concurrent registrations cannot both win).</summary>
    public async Task<bool> TryCreateAsync(UserRow user, CancellationToken ct)
    {
        try
        {
            await db.WithConnectionAsync((connection, token) => connection.ExecuteAsync(Insert, user, cancellationToken: token), ct);
            return true;
        }
        catch (DbException ex) when (TransientErrors.IsUniqueViolation(ex))
        {
            return false;
        }
    }

    public Task<UserRow?> FindByNormalizedEmailAsync(string normalizedEmail, CancellationToken ct) =>
        db.WithConnectionAsync((connection, token) => connection.QuerySingleOrDefaultAsync<UserRow>(SelectByEmail, new { normalizedEmail }, cancellationToken: token), ct);

    public Task<UserRow?> FindByIdAsync(string id, CancellationToken ct) =>
        db.WithConnectionAsync((connection, token) => connection.QuerySingleOrDefaultAsync<UserRow>(SelectById, new { id }, cancellationToken: token), ct);

    public Task<(long Count, IReadOnlyList<UserRow> Page)> SearchAsync(string? query, int pageIndex, int pageSize, CancellationToken ct)
    {
        string? pattern = string.IsNullOrWhiteSpace(query) ? null : "%" + EscapeLike(query.Trim().ToLowerInvariant()) + "%";
        return db.WithConnectionAsync<(long, IReadOnlyList<UserRow>)>(async (connection, token) =>
        {
            long count = await connection.ExecuteScalarAsync<long>(CountSearch, new { pattern }, cancellationToken: token);
            IReadOnlyList<UserRow> page = await connection.QueryAsync<UserRow>(
                SelectSearchPage, new { pattern, pageSize, offset = (long)pageIndex * pageSize }, cancellationToken: token);
            return (count, page);
        }, ct);
    }

    public Task UpdatePasswordHashAsync(string id, string passwordHash, CancellationToken ct) =>
        db.WithConnectionAsync((connection, token) => connection.ExecuteAsync(UpdatePasswordHash, new { id, passwordHash }, cancellationToken: token), ct);

    public Task<bool> SetRolesAsync(string id, string roles, string securityStamp, CancellationToken ct) =>
        UpdateExistingAsync(UpdateRoles, id, new { id, roles, securityStamp }, ct);

    public Task<bool> SetLockoutEndAsync(string id, DateTime? lockoutEnd, CancellationToken ct) =>
        UpdateExistingAsync(UpdateLockoutEnd, id, new { id, lockoutEnd }, ct);

    /// <summary>True when the user exists; MySQL reports 0 changed rows when the new value equals the old one, which is still a hit.</summary>
    private Task<bool> UpdateExistingAsync(SqlStatement update, string id, object parameters, CancellationToken ct) =>
        db.WithConnectionAsync(async (connection, token) =>
            await connection.ExecuteAsync(update, parameters, cancellationToken: token) > 0
            || await connection.ExecuteScalarAsync<int>(Exists, new { id }, cancellationToken: token) > 0, ct);

    private static string EscapeLike(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}
