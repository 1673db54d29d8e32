using System.Data.Common;
using Dapper;

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

internal sealed class UserStore(AuthDataSource db)
{
    private const string Columns =
        "id AS Id, email AS Email, normalized_email AS NormalizedEmail, display_name AS DisplayName, " +
        "password_hash AS PasswordHash, roles AS Roles, security_stamp AS SecurityStamp, lockout_end AS LockoutEnd, created_at AS CreatedAt";

    /// <summary>MySQL's ER_DUP_ENTRY; read by reflection so the check survives a swap of MySql.Data for MySqlConnector.</summary>
    private const int DuplicateKeyErrorNumber = 1062;

    public async Task<bool> TryCreateAsync(UserRow user, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO users (id, email, normalized_email, display_name, password_hash, roles, security_stamp, lockout_end, created_at)
                VALUES (@Id, @Email, @NormalizedEmail, @DisplayName, @PasswordHash, @Roles, @SecurityStamp, @LockoutEnd, @CreatedAt)
                """, user, cancellationToken: ct));
            return true;
        }
        catch (DbException ex) when (IsDuplicateKey(ex))
        {
            return false;
        }
    }

    public async Task<UserRow?> FindByNormalizedEmailAsync(string normalizedEmail, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"SELECT {Columns} FROM users WHERE normalized_email = @normalizedEmail", new { normalizedEmail }, cancellationToken: ct));
    }

    public async Task<UserRow?> FindByIdAsync(string id, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"SELECT {Columns} FROM users WHERE id = @id", new { id }, cancellationToken: ct));
    }

    public async Task<(long Count, IReadOnlyList<UserRow> Page)> SearchAsync(string? query, int pageIndex, int pageSize, CancellationToken ct)
    {
        string? pattern = string.IsNullOrWhiteSpace(query) ? null : "%" + EscapeLike(query.Trim().ToLowerInvariant()) + "%";
        const string Filter = "(@pattern IS NULL OR normalized_email LIKE @pattern OR LOWER(display_name) LIKE @pattern)";
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        long count = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT COUNT(*) FROM users WHERE {Filter}", new { pattern }, cancellationToken: ct));
        IEnumerable<UserRow> page = await connection.QueryAsync<UserRow>(new CommandDefinition(
            $"SELECT {Columns} FROM users WHERE {Filter} ORDER BY created_at, id LIMIT @pageSize OFFSET @offset",
            new { pattern, pageSize, offset = (long)pageIndex * pageSize }, cancellationToken: ct));
        return (count, page.AsList());
    }

    public async Task UpdatePasswordHashAsync(string id, string passwordHash, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE users SET password_hash = @passwordHash WHERE id = @id", new { id, passwordHash }, cancellationToken: ct));
    }

    public async Task<bool> SetRolesAsync(string id, string roles, string securityStamp, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        int rows = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE users SET roles = @roles, security_stamp = @securityStamp WHERE id = @id", new { id, roles, securityStamp }, cancellationToken: ct));
        return rows > 0 || await ExistsAsync(connection, id, ct);
    }

    public async Task<bool> SetLockoutEndAsync(string id, DateTime? lockoutEnd, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        int rows = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE users SET lockout_end = @lockoutEnd WHERE id = @id", new { id, lockoutEnd }, cancellationToken: ct));
        return rows > 0 || await ExistsAsync(connection, id, ct);
    }

    // MySQL reports 0 affected rows when the new value equals the old one; that is still a hit.
    private static async Task<bool> ExistsAsync(DbConnection connection, string id, CancellationToken ct) =>
        await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*) FROM users WHERE id = @id", new { id }, cancellationToken: ct)) > 0;

    private static bool IsDuplicateKey(DbException ex) =>
        ex.GetType().GetProperty("Number")?.GetValue(ex) is int number && number == DuplicateKeyErrorNumber;

    private static string EscapeLike(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}
