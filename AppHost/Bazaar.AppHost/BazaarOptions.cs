using System.Security.Cryptography;

namespace Bazaar.AppHost;

/// <summary>Where the backing servers run: local processes from the machine's packages, or containers.</summary>
public enum ServerRuntime
{
    Process,
    Container,
}

/// <summary>
/// The AppHost's own options, from its command line (which wins) and environment; everything else on the command line
/// goes to Aspire. <c>--data-dir DIR</c> (BAZAAR_DATA_DIR), <c>--fresh</c>, <c>--runtime process|container</c>
/// (BAZAAR_RUNTIME), <c>--dashboard-url</c> (BAZAAR_DASHBOARD_URL), <c>--otlp-url</c> (BAZAAR_OTLP_URL),
/// <c>--state-url</c> (BAZAAR_STATE_URL), <c>--free-ports</c> (tests: no preferred port).
/// </summary>
public sealed record BazaarOptions
{
    public const string DefaultDashboardUrl = "http://127.0.0.1:18888";
    public const string DefaultOtlpUrl = "http://127.0.0.1:18889";
    public const string DefaultStateUrl = "http://127.0.0.1:18887";

    public string? DataDirectory { get; init; }

    public bool Fresh { get; init; }

    public ServerRuntime Runtime { get; init; } = ServerRuntime.Process;

    public string DashboardUrl { get; init; } = DefaultDashboardUrl;

    public string OtlpUrl { get; init; } = DefaultOtlpUrl;

    public string StateUrl { get; init; } = DefaultStateUrl;

    public bool FreePorts { get; init; }

    public string? AdminPassword { get; init; }

    public string? DashboardApiKey { get; init; }

    /// <summary>What is left of the command line for Aspire.</summary>
    public IReadOnlyList<string> AspireArgs { get; init; } = [];

    public static BazaarOptions Parse(IReadOnlyList<string> args, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        var options = new BazaarOptions
        {
            DataDirectory = NonEmpty(environment("BAZAAR_DATA_DIR")),
            Runtime = ParseRuntime(NonEmpty(environment("BAZAAR_RUNTIME")) ?? "process"),
            DashboardUrl = LoopbackUrl(NonEmpty(environment("BAZAAR_DASHBOARD_URL")) ?? DefaultDashboardUrl, "BAZAAR_DASHBOARD_URL"),
            OtlpUrl = LoopbackUrl(NonEmpty(environment("BAZAAR_OTLP_URL")) ?? DefaultOtlpUrl, "BAZAAR_OTLP_URL"),
            StateUrl = LoopbackUrl(NonEmpty(environment("BAZAAR_STATE_URL")) ?? DefaultStateUrl, "BAZAAR_STATE_URL"),
            AdminPassword = NonEmpty(environment("BAZAAR_ADMIN_PASSWORD")),
            DashboardApiKey = NonEmpty(environment("BAZAAR_DASHBOARD_API_KEY")),
        };

        var rest = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string Value() => i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
                ? args[++i]
                : throw new ArgumentException($"{arg} needs a value.");
            options = arg switch
            {
                "--data-dir" => options with { DataDirectory = Value() },
                "--fresh" => options with { Fresh = true },
                "--free-ports" => options with { FreePorts = true },
                "--runtime" => options with { Runtime = ParseRuntime(Value()) },
                "--dashboard-url" => options with { DashboardUrl = LoopbackUrl(Value(), arg) },
                "--otlp-url" => options with { OtlpUrl = LoopbackUrl(Value(), arg) },
                "--state-url" => options with { StateUrl = LoopbackUrl(Value(), arg) },
                _ => options,
            };
            if (arg is not ("--data-dir" or "--fresh" or "--free-ports" or "--runtime" or "--dashboard-url" or "--otlp-url" or "--state-url"))
            {
                rest.Add(arg);
            }
        }

        return options with { AspireArgs = rest };
    }

    /// <summary>The data directory: as given, else <c>.bazaar/</c> at the repository root (the folder holding Aspire.sln).</summary>
    public string ResolveDataDirectory(string appHostDirectory)
    {
        if (DataDirectory is not null)
        {
            return Path.GetFullPath(DataDirectory);
        }

        for (DirectoryInfo? directory = new(appHostDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Aspire.sln")))
            {
                return Path.Combine(directory.FullName, ".bazaar");
            }
        }

        return Path.Combine(appHostDirectory, ".bazaar");
    }

    /// <summary>The dashboard's telemetry API key: BAZAAR_DASHBOARD_API_KEY, else generated once and kept (mode 600) in the secrets.</summary>
    public string ResolveDashboardApiKey(string secretsDirectory)
    {
        if (DashboardApiKey is not null)
        {
            return DashboardApiKey;
        }

        string file = Path.Combine(Directory.CreateDirectory(secretsDirectory).FullName, "dashboard-api-key");
        if (!File.Exists(file))
        {
            Bazaar.Hosting.BazaarDataDirectory.WriteOwnerOnly(file, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)));
        }

        return File.ReadAllText(file).Trim();
    }

    private static ServerRuntime ParseRuntime(string value) => value switch
    {
        "process" => ServerRuntime.Process,
        "container" or "docker" => ServerRuntime.Container,
        _ => throw new ArgumentException($"--runtime must be 'process' or 'container', not '{value}'."),
    };

    /// <summary>Bazaar binds to loopback only: an address elsewhere is refused, not silently exposed.</summary>
    private static string LoopbackUrl(string value, string name)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"{name} must be an http URL, not '{value}'.");
        }

        if (!uri.IsLoopback)
        {
            throw new ArgumentException($"{name} must be a loopback address (127.0.0.1 or localhost), not '{uri.Host}'.");
        }

        return uri.GetLeftPart(UriPartial.Authority);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
