using System.Data;
using System.Data.Common;
using Dapper;

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

internal sealed class RefreshTokenStore(AuthDataSource db)
{
    private sealed record TokenRow(string FamilyId, string UserId, DateTime ExpiresAt, DateTime? UsedAt, DateTime? RevokedAt);

    public async Task CreateAsync(byte[] tokenHash, string familyId, string userId, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        await InsertAsync(connection, null, tokenHash, familyId, userId, now, expiresAt, ct);
    }

    /// <summary>
    /// Marks <paramref name="presentedHash"/> used and stores its successor in one transaction; the row lock makes two
    /// concurrent refreshes with the same token end as one rotation and one reuse.
    /// </summary>
    public async Task<RotationResult> RotateAsync(byte[] presentedHash, byte[] nextHash, DateTimeOffset now, DateTimeOffset nextExpiresAt, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        await using DbTransaction transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct);
        TokenRow? row = await connection.QuerySingleOrDefaultAsync<TokenRow>(new CommandDefinition(
            """
            SELECT family_id AS FamilyId, user_id AS UserId, expires_at AS ExpiresAt, used_at AS UsedAt, revoked_at AS RevokedAt
            FROM refresh_tokens WHERE token_hash = @presentedHash FOR UPDATE
            """, new { presentedHash }, transaction, cancellationToken: ct));

        RotationResult result;
        if (row is null)
        {
            result = new RotationResult(RotationOutcome.NotFound, null, null);
        }
        else if (row.RevokedAt is not null)
        {
            result = new RotationResult(RotationOutcome.Revoked, row.UserId, row.FamilyId);
        }
        else if (row.UsedAt is not null)
        {
            await RevokeFamilyAsync(connection, transaction, row.FamilyId, now, ct);
            result = new RotationResult(RotationOutcome.ReuseDetected, row.UserId, row.FamilyId);
        }
        else if (DateTime.SpecifyKind(row.ExpiresAt, DateTimeKind.Utc) <= now.UtcDateTime)
        {
            result = new RotationResult(RotationOutcome.Expired, row.UserId, row.FamilyId);
        }
        else
        {
            await InsertAsync(connection, transaction, nextHash, row.FamilyId, row.UserId, now, nextExpiresAt, ct);
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE refresh_tokens SET used_at = @now, replaced_by_hash = @nextHash WHERE token_hash = @presentedHash",
                new { now = now.UtcDateTime, nextHash, presentedHash }, transaction, cancellationToken: ct));
            result = new RotationResult(RotationOutcome.Rotated, row.UserId, row.FamilyId);
        }

        await transaction.CommitAsync(ct);
        return result;
    }

    public async Task RevokeFamilyAsync(string familyId, DateTimeOffset now, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        await RevokeFamilyAsync(connection, null, familyId, now, ct);
    }

    public async Task RevokeAllOfUserAsync(string userId, DateTimeOffset now, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE refresh_tokens SET revoked_at = @now WHERE user_id = @userId AND revoked_at IS NULL",
            new { userId, now = now.UtcDateTime }, cancellationToken: ct));
    }

    private static Task RevokeFamilyAsync(DbConnection connection, DbTransaction? transaction, string familyId, DateTimeOffset now, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            "UPDATE refresh_tokens SET revoked_at = @now WHERE family_id = @familyId AND revoked_at IS NULL",
            new { familyId, now = now.UtcDateTime }, transaction, cancellationToken: ct));

    private static Task InsertAsync(DbConnection connection, DbTransaction? transaction, byte[] tokenHash, string familyId, string userId,
        DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at)
            VALUES (@tokenHash, @familyId, @userId, @createdAt, @expiresAt)
            """,
            new { tokenHash, familyId, userId, createdAt = now.UtcDateTime, expiresAt = expiresAt.UtcDateTime }, transaction, cancellationToken: ct));
}
