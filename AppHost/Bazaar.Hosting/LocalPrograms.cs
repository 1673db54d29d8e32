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
