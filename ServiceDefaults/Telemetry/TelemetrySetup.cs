using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Exporter;
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

/// <summary>Owns the tracer and meter providers: built when the host is, flushed and disposed when it stops.</summary>
internal sealed class TelemetryProviders(TracerProvider? tracerProvider, MeterProvider? meterProvider) : IHostedService, IDisposable
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        tracerProvider?.ForceFlush(timeoutMilliseconds: 2000);
        meterProvider?.ForceFlush(timeoutMilliseconds: 2000);
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        tracerProvider?.Dispose();
        meterProvider?.Dispose();
    }
}
