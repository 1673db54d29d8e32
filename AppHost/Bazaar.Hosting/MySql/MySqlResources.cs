namespace Aspire.Hosting.ApplicationModel;

/// <summary>A MySQL server, local (MariaDB's <c>mariadbd</c>) or a container (<c>mysql:8</c>), with its databases.</summary>
public interface IMySqlServerResource : IResourceWithConnectionString
{
    /// <summary>The databases created on it when it first answers.</summary>
    IList<MySqlDatabaseResource> Databases { get; }
}

/// <summary>MariaDB run as a local process, listening on 127.0.0.1 only, root's password a data-directory secret.</summary>
public sealed class MariaDbServerResource(string name, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, "mariadbd", workingDirectory), IMySqlServerResource
{
    internal const string PrimaryEndpointName = "tcp";

    private EndpointReference? _primaryEndpoint;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, PrimaryEndpointName);

    public ParameterResource PasswordParameter { get; } = password;

    public IList<MySqlDatabaseResource> Databases { get; } = [];

    /// <summary>Without a database, for administration.</summary>
    public ReferenceExpression ConnectionStringExpression => MySqlServerConnection.Expression(PrimaryEndpoint, PasswordParameter);
}

/// <summary>The <c>mysql:8</c> container (<c>--runtime container</c>): the same names and connection strings as <see cref="MariaDbServerResource"/>.</summary>
public sealed class MySqlContainerResource(string name, ParameterResource password) : ContainerResource(name), IMySqlServerResource
{
    internal const string PrimaryEndpointName = "tcp";

    private EndpointReference? _primaryEndpoint;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, PrimaryEndpointName);

    public ParameterResource PasswordParameter { get; } = password;

    public IList<MySqlDatabaseResource> Databases { get; } = [];

    public ReferenceExpression ConnectionStringExpression => MySqlServerConnection.Expression(PrimaryEndpoint, PasswordParameter);
}

internal static class MySqlServerConnection
{
    /// <summary>Root on the server, no database: <c>Server=127.0.0.1;Port=P;User ID=root;Password=PW;SslMode=None</c>.</summary>
    public static ReferenceExpression Expression(EndpointReference endpoint, ParameterResource password) => ReferenceExpression.Create(
        $"Server={endpoint.Property(EndpointProperty.IPV4Host)};Port={endpoint.Property(EndpointProperty.Port)};User ID=root;Password={password};SslMode=None");
}

/// <summary>A database on a MySQL server, created when the server first answers; its connection string names it.</summary>
public sealed class MySqlDatabaseResource(string name, string databaseName, IMySqlServerResource parent)
    : Resource(name), IResourceWithParent<IMySqlServerResource>, IResourceWithConnectionString, IResourceWithWaitSupport
{
    public string DatabaseName { get; } = databaseName;

    public IMySqlServerResource Parent { get; } = parent;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Parent};Database={DatabaseName}");
}
