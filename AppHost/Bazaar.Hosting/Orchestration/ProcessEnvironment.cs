using System.Globalization;

namespace Bazaar.Hosting;

/// <summary>The environment a project or executable replica starts with, exactly as Aspire would give it.</summary>
public static class ProcessEnvironment
{
    public static IReadOnlyDictionary<string, string> For(IResource resource, int replica, DistributedApplicationOptions options)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (resource is ProjectResource project)
        {
            environment["ASPNETCORE_URLS"] = project.HttpEndpoint.UrlFor(replica);
            environment["ASPNETCORE_ENVIRONMENT"] = "Development";
            environment["DOTNET_ENVIRONMENT"] = "Development";
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = options.OtlpEndpointUrl;
            environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
            environment["OTEL_SERVICE_NAME"] = project.Name;
            environment["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={ReplicaName(project, replica)}";
            // Aspire's development defaults: export every second so the dashboard feels live.
            environment["OTEL_BSP_SCHEDULE_DELAY"] = "1000";
            environment["OTEL_BLRP_SCHEDULE_DELAY"] = "1000";
            environment["OTEL_METRIC_EXPORT_INTERVAL"] = "1000";
            environment["OTEL_TRACES_SAMPLER"] = "always_on";
            environment["DOTNET_NOLOGO"] = "1";
            environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        }
        else if (resource.Annotations.OfType<EndpointAnnotation>().FirstOrDefault() is { } endpoint && endpoint.AllocatedPorts.Count > replica)
        {
            environment["PORT"] = endpoint.AllocatedPorts[replica].ToString(CultureInfo.InvariantCulture);
        }

        var context = new EnvironmentCallbackContext(resource, replica, environment);
        foreach (EnvironmentCallbackAnnotation callback in resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            callback.Callback(context);
        }

        return environment;
    }

    /// <summary>The resource's name when it runs one process; name-0, name-1... for replicas.</summary>
    public static string ReplicaName(IResource resource, int replica) =>
        resource.ReplicaCount() == 1 ? resource.Name : $"{resource.Name}-{replica.ToString(CultureInfo.InvariantCulture)}";
}
