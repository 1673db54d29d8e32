using System.Data.Common;
using System.Reflection;
using Dapper;

namespace Bazaar.Auth.Api.Data;

// TEMPORARY until Bazaar.Data's migration runner lands: applies Migrations/0001 to an empty authdb. Delete then.
internal static class TemporarySchemaBootstrap
{
    public static async Task ApplyAsync(AuthDataSource db, CancellationToken ct)
    {
        await using DbConnection connection = await db.OpenConnectionAsync(ct);
        int tables = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'users'", cancellationToken: ct));
        if (tables > 0)
        {
            return;
        }

        Assembly assembly = typeof(TemporarySchemaBootstrap).Assembly;
        string resource = assembly.GetManifestResourceNames().Single(n => n.EndsWith("0001_auth_schema.sql", StringComparison.Ordinal));
        await using Stream stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        string script = await reader.ReadToEndAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(script, cancellationToken: ct));
    }
}
