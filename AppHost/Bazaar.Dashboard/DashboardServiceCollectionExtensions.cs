using Bazaar.Dashboard.Api;
using Bazaar.Dashboard.Otlp;
using Bazaar.Dashboard.Telemetry;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bazaar.Dashboard;

public static class DashboardServiceCollectionExtensions
{
    /// <summary>The OTLP receiver (its own listener), the SQLite store and the ingest loop; no pages.</summary>
    public static IServiceCollection AddDashboardTelemetry(this IServiceCollection services, IConfiguration configuration, Action<DashboardOptions>? configure = null)
    {
        var options = services.AddOptions<DashboardOptions>()
            .Bind(configuration.GetSection(DashboardOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(o => Uri.TryCreate(o.OtlpUrl, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttp, "Dashboard:OtlpUrl must be an absolute http:// URL.")
            .ValidateOnStart();
        if (configure is not null) options.Configure(configure);

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<TelemetryStore>();
        services.AddSingleton<ReceiverStatistics>();
        services.AddSingleton<TelemetryIngestor>();
        services.AddSingleton<OtlpReceiverHost>();
        // Order matters: hosted services stop in reverse, so the receiver stops before the ingest loop drains.
        services.AddHostedService(sp => sp.GetRequiredService<TelemetryIngestor>());
        services.AddHostedService(sp => sp.GetRequiredService<OtlpReceiverHost>());
        services.AddProblemDetails();
        return services;
    }

    public static IEndpointRouteBuilder MapDashboardTelemetryApi(this IEndpointRouteBuilder endpoints) => endpoints.MapTelemetryApi();
}
