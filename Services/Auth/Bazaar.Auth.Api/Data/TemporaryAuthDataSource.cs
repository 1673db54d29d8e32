using System.Data.Common;
using MySql.Data.MySqlClient;

namespace Bazaar.Auth.Api.Data;

// TEMPORARY until Bazaar.Data's MySqlDataSource lands: the one place that opens authdb connections.
internal sealed class AuthDataSource(string connectionString)
{
    public async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }
}
