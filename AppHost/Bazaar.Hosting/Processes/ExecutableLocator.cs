namespace Bazaar.Hosting.Processes;

internal static class ExecutableLocator
{
    /// <summary>The full path of a program, looked up on PATH (and the sbin folders a root shell would have).</summary>
    public static string? Find(string fileName)
    {
        if (fileName.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(fileName) ? Path.GetFullPath(fileName) : null;
        }

        IEnumerable<string> path = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]);
        return path.Select(directory => Path.Combine(directory, fileName)).FirstOrDefault(File.Exists);
    }
}
