using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Bazaar.ServiceDefaults.Telemetry;

/// <summary>
/// What OpenTelemetry.Extensions.Hosting and the instrumentation packages would give (both are absent here):
/// the providers built from Sdk, fed by the ActivitySources and Meters .NET 10 itself emits.
/// </summary>
public static class TelemetrySetup
{
    public static readonly IReadOnlyList<string> ActivitySources =
        ["Microsoft.AspNetCore", "System.Net.Http", "RabbitMQ.Client.*", "Bazaar.*"];

    public static readonly IReadOnlyList<string> Meters =
        ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http", "System.Runtime", "Bazaar.*"];

    public const string TracesExporterKey = "OTEL_TRACES_EXPORTER";
    public const string MetricsExporterKey = "OTEL_METRICS_EXPORTER";
    public const string LogsExporterKey = "OTEL_LOGS_EXPORTER";

    /// <summary>
    /// Whether one signal is exported: OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER as the
    /// specification defines them, a comma-separated list where "none" alone turns the signal off (and "otlp", the
    /// default, keeps it). A signal turned off costs its service nothing: no listener, so no spans or measurements.
    /// </summary>
    public static bool IsExported(IConfiguration configuration, string key)
    {
        string? value = configuration[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            return true;
        }

        return value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Any(exporter => !string.Equals(exporter, "none", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The OTLP base endpoint, or null when telemetry is not to be exported.</summary>
    public static Uri? OtlpEndpoint(IConfiguration configuration)
    {
        string? value = configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        return Uri.TryCreate(value, UriKind.Absolute, out Uri? endpoint) ? endpoint : null;
    }

    /// <summary>service.name from OTEL_SERVICE_NAME (else the application name) plus OTEL_RESOURCE_ATTRIBUTES.</summary>
    public static ResourceBuilder CreateResource(IConfiguration configuration, IHostEnvironment environment)
    {
        Dictionary<string, object> attributes = ParseResourceAttributes(configuration["OTEL_RESOURCE_ATTRIBUTES"]);
        string serviceName = configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name
            ? name
            : attributes.TryGetValue("service.name", out object? fromAttributes) ? (string)fromAttributes : environment.ApplicationName;
        string? instanceId = attributes.TryGetValue("service.instance.id", out object? id) ? (string)id : null;
        attributes.Remove("service.name");
        attributes.Remove("service.instance.id");
        attributes["deployment.environment.name"] = environment.EnvironmentName;

        return ResourceBuilder.CreateEmpty()
            .AddService(serviceName, serviceInstanceId: instanceId, autoGenerateServiceInstanceId: instanceId is null)
            .AddTelemetrySdk()
            .AddAttributes(attributes);
    }

    /// <summary>Parses <c>key1=value1,key2=value2</c> (values percent-encoded) as the OpenTelemetry specification defines it.</summary>
    public static Dictionary<string, object> ParseResourceAttributes(string? value)
    {
        var attributes = new Dictionary<string, object>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(value))
        {
            return attributes;
        }

        foreach (string pair in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;
            }

            attributes[pair[..equals].Trim()] = Uri.UnescapeDataString(pair[(equals + 1)..].Trim());
        }

        return attributes;
    }

    /// <summary>
    /// Exporter options for one signal. Setting Endpoint in code turns off the SDK's own "append /v1/{signal}"
    /// for http/protobuf, so the signal path is appended here.
    /// </summary>
    public static void ConfigureExporter(OtlpExporterOptions options, IConfiguration configuration, Uri baseEndpoint, string signalPath)
    {
        string protocol = configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] ?? "http/protobuf";
        if (string.Equals(protocol, "grpc", StringComparison.OrdinalIgnoreCase))
        {
            options.Protocol = OtlpExportProtocol.Grpc;
            options.Endpoint = baseEndpoint;
            return;
        }

        options.Protocol = OtlpExportProtocol.HttpProtobuf;
        options.Endpoint = new Uri(baseEndpoint.AbsoluteUri.TrimEnd('/') + signalPath);
    }

    /// <summary>
    /// A whole number of milliseconds from configuration (OTEL_BSP_SCHEDULE_DELAY, OTEL_BLRP_SCHEDULE_DELAY,
    /// OTEL_METRIC_EXPORT_INTERVAL): read here so appsettings and tests can set them, not only the environment.
    /// </summary>
    public static bool TryGetMilliseconds(IConfiguration configuration, string key, out int milliseconds) =>
        int.TryParse(configuration[key], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out milliseconds)
        && milliseconds > 0;

    internal static TracerProvider BuildTracerProvider(IConfiguration configuration, IHostEnvironment environment, Uri endpoint)
    {
        TracerProviderBuilder builder = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(CreateResource(configuration, environment))
            .AddProcessor(new HealthProbeTraceFilter());
        foreach (string source in ActivitySources)
        {
            builder.AddSource(source);
        }

        return builder
            .AddOtlpExporter(options =>
            {
                ConfigureExporter(options, configuration, endpoint, "/v1/traces");
                if (TryGetMilliseconds(configuration, "OTEL_BSP_SCHEDULE_DELAY", out int delay))
                {
                    options.BatchExportProcessorOptions.ScheduledDelayMilliseconds = delay;
                }
            })
            .Build();
    }

    internal static MeterProvider BuildMeterProvider(IConfiguration configuration, IHostEnvironment environment, Uri endpoint)
    {
        MeterProviderBuilder builder = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(CreateResource(configuration, environment));
        foreach (string meter in Meters)
        {
            builder.AddMeter(meter);
        }

        return builder
            .AddOtlpExporter((options, reader) =>
            {
                ConfigureExporter(options, configuration, endpoint, "/v1/metrics");
                if (TryGetMilliseconds(configuration, "OTEL_METRIC_EXPORT_INTERVAL", out int interval))
                {
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = interval;
                }
            })
            .Build();
    }
}

/// <summary>
/// Drops the spans of /health and /alive requests: the orchestrator probes every few seconds and those
/// spans would bury the requests people look for. Clearing Recorded makes the export processor skip them.
/// </summary>
internal sealed class HealthProbeTraceFilter : BaseProcessor<Activity>
{
    public override void OnEnd(Activity data)
    {
        if (data.Source.Name == "Microsoft.AspNetCore" && IsProbe(data.GetTagItem("url.path") as string))
        {
            data.ActivityTraceFlags &= ~ActivityTraceFlags.Recorded;
        }
    }

    private static bool IsProbe(string? path) =>
        string.Equals(path, "/health", StringComparison.OrdinalIgnoreCase)
        || string.Equals(path, "/alive", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// Owns the tracer and meter providers, built when the host is; stopping flushes them and the logger provider, and
/// disposal (after every hosted service has stopped) shuts all three down. Flush and shutdown share one budget: the
/// SDK alone allows each export 10 s and each provider's shutdown 5 s, and a metric flush exports on the calling thread
/// whatever timeout it is given, so a collector that accepts connections but never answers (a hung or starved
/// dashboard) held a service's stop for 21 s, past the AppHost's SIGKILL at 10 s. What the budget does not cover is
/// dropped; an export still waiting then holds only a thread-pool thread, which does not keep the process alive.
/// </summary>
internal sealed class TelemetryProviders : IHostedService, IDisposable
{
    /// <summary>How long stopping may spend delivering what the providers still hold, flush and shutdown together.</summary>
    public static readonly TimeSpan DeliveryBudget = TimeSpan.FromSeconds(2);

    private readonly TracerProvider? _tracerProvider;
    private readonly MeterProvider? _meterProvider;
    private readonly (Func<int, bool> Flush, Func<int, bool> Shutdown)[] _signals;
    private long _stoppingSince;

    public TelemetryProviders(TracerProvider? tracerProvider, MeterProvider? meterProvider, LoggerProvider? loggerProvider)
    {
        _tracerProvider = tracerProvider;
        _meterProvider = meterProvider;
        var signals = new List<(Func<int, bool>, Func<int, bool>)>();
        if (tracerProvider is not null)
        {
            signals.Add((tracerProvider.ForceFlush, tracerProvider.Shutdown));
        }

        if (meterProvider is not null)
        {
            signals.Add((meterProvider.ForceFlush, meterProvider.Shutdown));
        }

        if (loggerProvider is not null)
        {
            signals.Add((loggerProvider.ForceFlush, loggerProvider.Shutdown));
        }

        _signals = [.. signals];
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Task flushed = Task.WhenAll(_signals.Select(signal => Task.Run(() => signal.Flush(RemainingMilliseconds()), CancellationToken.None)));
        await Task.WhenAny(flushed, Task.Delay(Remaining(), CancellationToken.None)).ConfigureAwait(false);
    }

    public void Dispose()
    {
        // Each shutdown keeps to the time it is given (it cancels the export it waits for), and once shut down, a
        // provider's own disposal does not shut it down again with 5 s of its own.
        foreach ((_, Func<int, bool> shutdown) in _signals)
        {
            shutdown(RemainingMilliseconds());
        }

        _tracerProvider?.Dispose();
        _meterProvider?.Dispose();
    }

    /// <summary>What is left of the budget, counted from the first call (stopping, or disposal without a stop).</summary>
    private TimeSpan Remaining()
    {
        Interlocked.CompareExchange(ref _stoppingSince, Stopwatch.GetTimestamp(), 0);
        TimeSpan left = DeliveryBudget - Stopwatch.GetElapsedTime(Interlocked.Read(ref _stoppingSince));
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private int RemainingMilliseconds() => (int)Remaining().TotalMilliseconds;
}
