namespace Aspire.Hosting.ApplicationModel;

/// <summary>A RabbitMQ broker run as a local process (Debian's <c>rabbitmq-server</c>), on loopback.</summary>
public sealed class RabbitMQBrokerResource(string name, string workingDirectory, string userName, ParameterResource password)
    : ExecutableResource(name, RabbitMQBrokerResource.ServerScript, workingDirectory), IResourceWithConnectionString
{
    /// <summary>Run directly: the /usr/sbin wrapper switches to the rabbitmq user, who cannot write a data directory of ours.</summary>
    public const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    internal const string PrimaryEndpointName = "tcp";

    private EndpointReference? _primaryEndpoint;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, PrimaryEndpointName);

    public string UserName { get; } = userName;

    public ParameterResource PasswordParameter { get; } = password;

    /// <summary>Aspire's form: <c>amqp://USER:PW@127.0.0.1:PORT</c>.</summary>
    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"amqp://{UserName}:{PasswordParameter}@{PrimaryEndpoint.Property(EndpointProperty.IPV4Host)}:{PrimaryEndpoint.Property(EndpointProperty.Port)}");
}
