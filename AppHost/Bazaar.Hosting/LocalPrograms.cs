namespace Bazaar.Hosting;

/// <summary>The servers' programs come from the machine's packages: a missing one stops the AppHost at once, saying what to install.</summary>
internal static class LocalPrograms
{
    public static void Require(string program, string package)
    {
        bool found = Path.IsPathRooted(program)
            ? File.Exists(program)
            : (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
                .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Any(directory => File.Exists(Path.Combine(directory, program)));
        if (!found)
        {
            throw new Aspire.Hosting.DistributedApplicationException(
                $"'{program}' is not installed. Install it with 'sudo apt-get install -y {package}' (eng/bootstrap.sh installs every server), "
                + "or run the servers as containers with --runtime container.");
        }
    }
}

/// <summary>What every local server starts from: its program checked, a generated password, a data folder and a port.</summary>
internal sealed record LocalServer(string Secret, Aspire.Hosting.ApplicationModel.IResourceBuilder<Aspire.Hosting.ApplicationModel.ParameterResource> Password, string Directory, int Port)
{
    public static LocalServer Prepare(Aspire.Hosting.IDistributedApplicationBuilder builder, string name, BazaarDataDirectory data, int? port, string program, string package)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(data);
        LocalPrograms.Require(program, package);
        string secret = data.Secret($"{name}-password");
        return new LocalServer(
            secret,
            Aspire.Hosting.ParameterResourceBuilderExtensions.AddParameter(builder, $"{name}-password", secret, secret: true),
            data.ResourceDirectory(name),
            data.Port(name, port));
    }
}
