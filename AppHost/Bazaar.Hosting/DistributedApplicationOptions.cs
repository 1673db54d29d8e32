namespace Bazaar.Hosting;

/// <summary>Where backing servers run: as local processes from the machine's binaries, or as containers.</summary>
public enum ContainerRuntime
{
    Process,
    Docker,
}

/// <summary>Settings of one AppHost run, from the command line (--data-dir, --fresh, --runtime, --dashboard-url, --otlp-url) and environment.</summary>
public sealed class DistributedApplicationOptions
{
    public const string DefaultDashboardUrl = "http://127.0.0.1:18888";
    public const string DefaultOtlpEndpointUrl = "http://127.0.0.1:18889";

    public string[] Args { get; set; } = [];

    /// <summary>Data of the backing servers, secrets, remembered ports and pid files. Default: .bazaar/ at the repository root.</summary>
    public string? DataDirectory { get; set; }

    /// <summary>Wipe the data directory before starting.</summary>
    public bool Fresh { get; set; }

    public ContainerRuntime Runtime { get; set; } = ContainerRuntime.Process;

    /// <summary>The state server (and dashboard). Null disables it.</summary>
    public string? DashboardUrl { get; set; } = DefaultDashboardUrl;

    /// <summary>Given to every project as OTEL_EXPORTER_OTLP_ENDPOINT.</summary>
    public string OtlpEndpointUrl { get; set; } = DefaultOtlpEndpointUrl;

    /// <summary>Where relative project paths start. Default: the folder holding Aspire.sln, found by walking up.</summary>
    public string? ProjectRoot { get; set; }

    /// <summary>The build configuration projects are started from. Default: the one this engine was built with.</summary>
    public string? Configuration { get; set; }

    /// <summary>Ignore the preferred ports of the model and take free ones (tests running beside an AppHost).</summary>
    public bool UseFreePorts { get; set; }

    /// <summary>How long a process may take to stop after SIGTERM before it is killed.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First delay before restarting a crashed process; doubles each consecutive crash up to <see cref="RestartDelayCap"/>.</summary>
    public TimeSpan RestartDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RestartDelayCap { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Probe interval while a resource is coming up (short, so dependents start early).</summary>
    public TimeSpan StartupProbeInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Probe interval once a resource is healthy.</summary>
    public TimeSpan HealthProbeInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The folder relative project paths start from: <see cref="ProjectRoot"/>, else the one holding Aspire.sln.</summary>
    public string ResolveProjectRoot() => Path.GetFullPath(ProjectRoot ?? FindSolutionRoot() ?? Directory.GetCurrentDirectory());

    /// <summary>The data directory in use: <see cref="DataDirectory"/>, else .bazaar/ under the project root.</summary>
    public string ResolveDataDirectory() => Path.GetFullPath(DataDirectory ?? Path.Combine(ResolveProjectRoot(), ".bazaar"));

    /// <summary>Walks up from the program's folder, then from the current one, to the folder holding Aspire.sln.</summary>
    public static string? FindSolutionRoot()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (DirectoryInfo? directory = new(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Aspire.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        return null;
    }

    /// <summary>Write state changes to the console (the AppHost does; tests need not).</summary>
    public bool ConsoleLogging { get; set; } = true;
}
