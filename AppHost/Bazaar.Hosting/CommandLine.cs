namespace Bazaar.Hosting;

/// <summary>Reads the AppHost's command line and environment into <see cref="DistributedApplicationOptions"/>.</summary>
public static class CommandLine
{
    public const string Usage = """
        Options:
          --data-dir DIR        data of the backing servers, secrets, pid files (default: .bazaar/ at the repository root)
          --fresh               wipe the data directory first
          --runtime KIND        process (default: local binaries) or docker (containers)
          --dashboard-url URL   state server and dashboard (default: http://127.0.0.1:18888; env BAZAAR_DASHBOARD_URL)
          --otlp-url URL        OTLP endpoint given to services (default: http://127.0.0.1:18889; env BAZAAR_OTLP_URL)
        """;

    public static DistributedApplicationOptions Parse(string[] args, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var options = new DistributedApplicationOptions { Args = args };
        options.DashboardUrl = environment("BAZAAR_DASHBOARD_URL") is { Length: > 0 } dashboard ? dashboard : options.DashboardUrl;
        options.OtlpEndpointUrl = environment("BAZAAR_OTLP_URL") is { Length: > 0 } otlp ? otlp : options.OtlpEndpointUrl;
        options.DataDirectory = environment("BAZAAR_DATA_DIR") is { Length: > 0 } dataDir ? dataDir : null;
        if (environment("BAZAAR_RUNTIME") is { Length: > 0 } runtime)
        {
            options.Runtime = ParseRuntime(runtime);
        }

        for (int i = 0; i < args.Length; i++)
        {
            string argument = args[i];
            string? inlineValue = null;
            int equals = argument.IndexOf('=', StringComparison.Ordinal);
            if (argument.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                inlineValue = argument[(equals + 1)..];
                argument = argument[..equals];
            }

            string Value()
            {
                if (inlineValue is not null)
                {
                    return inlineValue;
                }

                if (i + 1 >= args.Length)
                {
                    throw new ArgumentException($"{argument} needs a value.{Environment.NewLine}{Usage}");
                }

                return args[++i];
            }

            switch (argument)
            {
                case "--data-dir":
                    options.DataDirectory = Value();
                    break;
                case "--fresh":
                    options.Fresh = true;
                    break;
                case "--runtime":
                    options.Runtime = ParseRuntime(Value());
                    break;
                case "--dashboard-url":
                    options.DashboardUrl = Value();
                    break;
                case "--otlp-url":
                    options.OtlpEndpointUrl = Value();
                    break;
                default:
                    // Anything else is configuration for the model (e.g. --Key=Value), as in Aspire.
                    break;
            }
        }

        return options;
    }

    private static ContainerRuntime ParseRuntime(string value) => value.ToLowerInvariant() switch
    {
        "process" or "local" => ContainerRuntime.Process,
        "docker" => ContainerRuntime.Docker,
        _ => throw new ArgumentException($"Unknown runtime '{value}': use 'process' or 'docker'.{Environment.NewLine}{Usage}"),
    };
}
