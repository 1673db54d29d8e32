using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace Bazaar.Hosting;

/// <summary>What every local server starts from: its program checked, a generated password, a data folder and a port.</summary>
internal sealed record LocalServer(string Secret, IResourceBuilder<ParameterResource> Password, string Directory, int Port)
{
    public static LocalServer Prepare(IDistributedApplicationBuilder builder, string name, BazaarDataDirectory data, int? port, string program, string package)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(data);
        LocalPrograms.Require(program, package);
        string secret = data.Secret($"{name}-password");
        return new LocalServer(
            secret,
            builder.AddParameter($"{name}-password", secret, secret: true),
            data.ResourceDirectory(name),
            data.Port(name, port));
    }
}
