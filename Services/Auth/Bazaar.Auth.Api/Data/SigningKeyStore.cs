using System.Data.Common;
using Dapper;

namespace Bazaar.Auth.Api.Data;

internal sealed record SigningKeyRow(string Id, string Algorithm, byte[] PrivateKey, DateTime CreatedAt, DateTime? RetiredAt);

internal sealed class SigningKeyStore(AuthDataSource db)
{
    private const string Columns = "id AS Id, algorithm AS Algorithm, private_key AS PrivateKey, created_at AS CreatedAt, retired_at AS RetiredAt";

    /// <summary>Keys still worth publishing: active, or retired after <paramref name="retiredAfter"/> (their tokens may be alive).</summary>
    public async Task<IReadOnlyList<SigningKeyRow>> LoadPublishedAsync(DateTimeOffset retiredAfter, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        IEnumerable<SigningKeyRow> rows = await connection.QueryAsync<SigningKeyRow>(new CommandDefinition(
            $"SELECT {Columns} FROM signing_keys WHERE retired_at IS NULL OR retired_at > @retiredAfter ORDER BY created_at, id",
            new { retiredAfter = retiredAfter.UtcDateTime }, cancellationToken: ct));
        return rows.AsList();
    }

    /// <summary>
    /// Runs <paramref name="change"/> under a named server lock so that replicas starting together, or two admins rotating
    /// at once, do not each add a key.
    /// </summary>
    public async Task<T> WithKeyLockAsync<T>(Func<DbConnection, Task<T>> change, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        int acquired = await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT GET_LOCK('bazaar_auth_signing_keys', 30)", cancellationToken: ct));
        if (acquired != 1)
        {
            throw new TimeoutException("Timed out waiting for the signing key lock.");
        }

        try
        {
            return await change(connection);
        }
        finally
        {
            await connection.ExecuteScalarAsync<int?>(new CommandDefinition("SELECT RELEASE_LOCK('bazaar_auth_signing_keys')", cancellationToken: CancellationToken.None));
        }
    }

    public static async Task<int> CountActiveAsync(DbConnection connection, CancellationToken ct) =>
        await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL", cancellationToken: ct));

    public static Task RetireActiveAsync(DbConnection connection, DateTimeOffset now, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            "UPDATE signing_keys SET retired_at = @now WHERE retired_at IS NULL", new { now = now.UtcDateTime }, cancellationToken: ct));

    public static Task InsertAsync(DbConnection connection, SigningKeyRow key, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO signing_keys (id, algorithm, private_key, created_at, retired_at) VALUES (@Id, @Algorithm, @PrivateKey, @CreatedAt, @RetiredAt)",
            key, cancellationToken: ct));
}
