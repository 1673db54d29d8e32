using System.Data;
using System.Data.Common;
using Bazaar.Data;
using MySqlConnector;

namespace Bazaar.Auth.Api.Data;

internal enum RotationOutcome
{
    Rotated,
    NotFound,
    Expired,
    Revoked,
    /// <summary>The token had already been rotated: someone replayed it, so its whole family was revoked.</summary>
    ReuseDetected,
}

internal sealed record RotationResult(RotationOutcome Outcome, string? UserId, string? FamilyId);

internal sealed class RefreshTokenStore(MySqlDataSource db)
{
    private sealed record TokenRow(string FamilyId, string UserId, DateTime ExpiresAt, DateTime? UsedAt, DateTime? RevokedAt);

    private static readonly SqlStatement Insert = new("refresh_tokens.insert", """
        INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at)
        VALUES (@tokenHash, @familyId, @userId, @createdAt, @expiresAt)
        """);

    private static readonly SqlStatement SelectForUpdate = new("refresh_tokens.lock", """
        SELECT family_id AS FamilyId, user_id AS UserId, expires_at AS ExpiresAt, used_at AS UsedAt, revoked_at AS RevokedAt
        FROM refresh_tokens WHERE token_hash = @presentedHash FOR UPDATE
        """);

    private static readonly SqlStatement MarkUsed = new("refresh_tokens.mark_used",
        "UPDATE refresh_tokens SET used_at = @now, replaced_by_hash = @nextHash WHERE token_hash = @presentedHash");

    private static readonly SqlStatement RevokeFamily = new("refresh_tokens.revoke_family",
        "UPDATE refresh_tokens SET revoked_at = @now WHERE family_id = @familyId AND revoked_at IS NULL");

    private static readonly SqlStatement RevokeUser = new("refresh_tokens.revoke_user",
        "UPDATE refresh_tokens SET revoked_at = @now WHERE user_id = @userId AND revoked_at IS NULL");

    public Task CreateAsync(byte[] tokenHash, string familyId, string userId, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken ct) =>
        db.WithConnectionAsync((connection, token) => InsertAsync(connection, null, tokenHash, familyId, userId, now, expiresAt, token), ct);

    /// <summary>
    /// Marks <paramref name="presentedHash"/> used and stores its successor in one transaction; the row lock makes two
    /// concurrent refreshes with the same token end as one rotation and one reuse.
    /// </summary>
    public Task<RotationResult> RotateAsync(byte[] presentedHash, byte[] nextHash, DateTimeOffset now, DateTimeOffset nextExpiresAt, CancellationToken ct) =>
        db.InTransactionAsync(async (connection, transaction, token) =>
        {
            TokenRow? row = await connection.QuerySingleOrDefaultAsync<TokenRow>(SelectForUpdate, new { presentedHash }, transaction, token);
            if (row is null)
            {
                return new RotationResult(RotationOutcome.NotFound, null, null);
            }

            if (row.RevokedAt is not null)
            {
                return new RotationResult(RotationOutcome.Revoked, row.UserId, row.FamilyId);
            }

            if (row.UsedAt is not null)
            {
                await connection.ExecuteAsync(RevokeFamily, new { familyId = row.FamilyId, now = now.UtcDateTime }, transaction, token);
                return new RotationResult(RotationOutcome.ReuseDetected, row.UserId, row.FamilyId);
            }

            if (DateTime.SpecifyKind(row.ExpiresAt, DateTimeKind.Utc) <= now.UtcDateTime)
            {
                return new RotationResult(RotationOutcome.Expired, row.UserId, row.FamilyId);
            }

            await InsertAsync(connection, transaction, nextHash, row.FamilyId, row.UserId, now, nextExpiresAt, token);
            await connection.ExecuteAsync(MarkUsed, new { now = now.UtcDateTime, nextHash, presentedHash }, transaction, token);
            return new RotationResult(RotationOutcome.Rotated, row.UserId, row.FamilyId);
        }, ct, IsolationLevel.ReadCommitted);

    public Task RevokeFamilyAsync(string familyId, DateTimeOffset now, CancellationToken ct) =>
        db.WithConnectionAsync((connection, token) => connection.ExecuteAsync(RevokeFamily, new { familyId, now = now.UtcDateTime }, cancellationToken: token), ct);

    public Task RevokeAllOfUserAsync(string userId, DateTimeOffset now, CancellationToken ct) =>
        db.WithConnectionAsync((connection, token) => connection.ExecuteAsync(RevokeUser, new { userId, now = now.UtcDateTime }, cancellationToken: token), ct);

    private static Task<int> InsertAsync(DbConnection connection, DbTransaction? transaction, byte[] tokenHash, string familyId, string userId,
        DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken ct) =>
        connection.ExecuteAsync(Insert,
            new { tokenHash, familyId, userId, createdAt = now.UtcDateTime, expiresAt = expiresAt.UtcDateTime }, transaction, ct);
}
