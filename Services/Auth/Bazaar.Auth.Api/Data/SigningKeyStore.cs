using System.Data.Common;
using Bazaar.Data;
using MySqlConnector;

namespace Bazaar.Auth.Api.Data;

internal sealed record SigningKeyRow(string Id, string Algorithm, byte[] PrivateKey, DateTime CreatedAt, DateTime? RetiredAt);

internal sealed class SigningKeyStore(MySqlDataSource db)
{
    private const string LockName = "bazaar_auth_signing_keys";

    private static readonly SqlStatement SelectPublished = new("signing_keys.published", """
        SELECT id AS Id, algorithm AS Algorithm, private_key AS PrivateKey, created_at AS CreatedAt, retired_at AS RetiredAt
        FROM signing_keys WHERE retired_at IS NULL OR retired_at > @retiredAfter ORDER BY created_at, id
        """);

    private static readonly SqlStatement AcquireLock = new("signing_keys.get_lock", "SELECT GET_LOCK(@name, 30)");
    private static readonly SqlStatement ReleaseLock = new("signing_keys.release_lock", "SELECT RELEASE_LOCK(@name)");
    private static readonly SqlStatement CountActive = new("signing_keys.count_active", "SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL");
    private static readonly SqlStatement RetireActive = new("signing_keys.retire_active", "UPDATE signing_keys SET retired_at = @now WHERE retired_at IS NULL");
    private static readonly SqlStatement Insert = new("signing_keys.insert",
        "INSERT INTO signing_keys (id, algorithm, private_key, created_at, retired_at) VALUES (@Id, @Algorithm, @PrivateKey, @CreatedAt, @RetiredAt)");

    /// <summary>Keys still worth publishing: active, or retired after <paramref name="retiredAfter"/> (their tokens may be alive).</summary>
    public Task<IReadOnlyList<SigningKeyRow>> LoadPublishedAsync(DateTimeOffset retiredAfter, CancellationToken ct) =>
        db.WithConnectionAsync((connection, token) =>
            connection.QueryAsync<SigningKeyRow>(SelectPublished, new { retiredAfter = retiredAfter.UtcDateTime }, cancellationToken: token), ct);

    /// <summary>Adds <paramref name="key"/> unless an active key exists (replicas starting together add one key, not two).</summary>
    public Task<bool> AddIfNoneActiveAsync(SigningKeyRow key, CancellationToken ct) =>
        WithKeyLockAsync(async (connection, token) =>
        {
            if (await connection.ExecuteScalarAsync<int>(CountActive, cancellationToken: token) > 0)
            {
                return false;
            }

            await connection.ExecuteAsync(Insert, key, cancellationToken: token);
            return true;
        }, ct);

    /// <summary>Retires every active key and adds <paramref name="key"/> as the one that signs.</summary>
    public Task<bool> ReplaceActiveAsync(SigningKeyRow key, DateTimeOffset now, CancellationToken ct) =>
        WithKeyLockAsync(async (connection, token) =>
        {
            await using DbTransaction transaction = await connection.BeginTransactionAsync(token);
            await connection.ExecuteAsync(RetireActive, new { now = now.UtcDateTime }, transaction, token);
            await connection.ExecuteAsync(Insert, key, transaction, token);
            await transaction.CommitAsync(token);
            return true;
        }, ct);

    private Task<T> WithKeyLockAsync<T>(Func<DbConnection, CancellationToken, Task<T>> change, CancellationToken ct) =>
        db.WithConnectionAsync(async (connection, token) =>
        {
            if (await connection.ExecuteScalarAsync<long?>(AcquireLock, new { name = LockName }, cancellationToken: token) != 1)
            {
                throw new TimeoutException("Timed out waiting for the signing key lock.");
            }

            try
            {
                return await change(connection, token);
            }
            finally
            {
                // CancellationToken.None: the lock must be released even when the request was cancelled.
                await connection.ExecuteScalarAsync<long?>(ReleaseLock, new { name = LockName }, cancellationToken: CancellationToken.None);
            }
        }, ct);
}
