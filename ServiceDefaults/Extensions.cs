using Bazaar.ServiceDefaults.Discovery;
using Bazaar.ServiceDefaults.Health;
using Bazaar.ServiceDefaults.Hosting;
using Bazaar.ServiceDefaults.Resilience;
using Bazaar.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Logs;

namespace Microsoft.Extensions.Hosting;

/// <summary>The one line every Bazaar service adds to join the platform, as in an Aspire ServiceDefaults project.</summary>
public static class Extensions
{
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";
    public const string LiveTag = "live";

    /// <summary>Where a service listens when nothing says otherwise: Kestrel's port, on loopback only.</summary>
    public const string DefaultUrls = "http://127.0.0.1:5000";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (builder.Services.Any(service => service.ServiceType == typeof(ServiceDefaultsMarker)))
        {
            // A second call (a shared library calling it too) must not register exporters or the "self" check twice.
            return builder;
        }

        builder.Services.AddSingleton<ServiceDefaultsMarker>();
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.ConfigureLoopbackUrls();

        builder.Services.AddServiceDiscovery();
        builder.Services.AddStandardResilience(builder.Configuration);
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // Resilience outside discovery: each retry resolves again and may reach another replica.
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        // Registered first so it wraps the problem-details handlers and records the status they finally send.
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, RequestActivityStartupFilter>());
        builder.Services.AddProblemDetails();
        builder.Services.AddOptions<DependencyFailureOptions>();
        builder.Services.TryAddSingleton<DependencyUnavailableHandler>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IExceptionHandler, DependencyUnavailableHandler>(s => s.GetRequiredService<DependencyUnavailableHandler>()));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IDeveloperPageExceptionFilter, DependencyUnavailableHandler>(s => s.GetRequiredService<DependencyUnavailableHandler>()));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, ProblemDetailsStartupFilter>());

        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        Uri? endpoint = TelemetrySetup.OtlpEndpoint(builder.Configuration);
        if (endpoint is null)
        {
            return builder;
        }

        IConfiguration configuration = builder.Configuration;
        IHostEnvironment environment = builder.Environment;
        if (TelemetrySetup.IsExported(configuration, TelemetrySetup.LogsExporterKey))
        {
            builder.AddOpenTelemetryLogs(configuration, environment, endpoint);
        }

        builder.Services.AddHostedService(services => new TelemetryProviders(
            TelemetrySetup.IsExported(configuration, TelemetrySetup.TracesExporterKey) ? TelemetrySetup.BuildTracerProvider(configuration, environment, endpoint) : null,
            TelemetrySetup.IsExported(configuration, TelemetrySetup.MetricsExporterKey) ? TelemetrySetup.BuildMeterProvider(configuration, environment, endpoint) : null,
            services.GetService<LoggerProvider>()));
        return builder;
    }

    private static void AddOpenTelemetryLogs(this IHostApplicationBuilder builder, IConfiguration configuration, IHostEnvironment environment, Uri endpoint)
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
            logging.SetResourceBuilder(TelemetrySetup.CreateResource(configuration, environment));
            logging.AddOtlpExporter((options, processor) =>
            {
                TelemetrySetup.ConfigureExporter(options, configuration, endpoint, "/v1/logs");
                if (TelemetrySetup.TryGetMilliseconds(configuration, "OTEL_BLRP_SCHEDULE_DELAY", out int delay))
                {
                    processor.BatchExportProcessorOptions.ScheduledDelayMilliseconds = delay;
                }
            });
        });
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // "self" answers /alive: the process serves requests. Dependencies are checked by /health only.
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    public static IServiceCollection AddServiceDiscovery(this IServiceCollection services)
    {
        services.TryAddSingleton<ServiceEndpointResolver>();
        services.TryAddTransient<ServiceDiscoveryHandler>();
        return services;
    }

    public static IHttpClientBuilder AddServiceDiscovery(this IHttpClientBuilder builder) =>
        builder.AddHttpMessageHandler<ServiceDiscoveryHandler>();

    public static IServiceCollection AddStandardResilience(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddStandardResilienceCore();

        // Every client's options (named by the client) start from the configuration section; a client's own
        // configure action, registered later, applies on top.
        IConfigurationSection section = configuration.GetSection(HttpStandardResilienceOptions.ConfigurationSection);
        services.ConfigureAll<HttpStandardResilienceOptions>(section.Bind);
        services.AddOptions<HttpStandardResilienceOptions>().ValidateOnStart();
        return services;
    }

    /// <summary>
    /// Kestrel's own default is localhost:5000 on every loopback family; Bazaar promises 127.0.0.1 only.
    /// Anything the user set (ASPNETCORE_URLS, --urls, HTTP_PORTS, Kestrel:Endpoints) wins.
    /// </summary>
    public static TBuilder ConfigureLoopbackUrls<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        IConfiguration configuration = builder.Configuration;
        bool addressChosen =
            !string.IsNullOrEmpty(configuration[WebHostDefaults.ServerUrlsKey])
            || !string.IsNullOrEmpty(configuration[WebHostDefaults.HttpPortsKey])
            || !string.IsNullOrEmpty(configuration[WebHostDefaults.HttpsPortsKey])
            || configuration.GetSection("Kestrel:Endpoints").GetChildren().Any();
        if (!addressChosen)
        {
            builder.Configuration[WebHostDefaults.ServerUrlsKey] = DefaultUrls;
        }

        return builder;
    }

    /// <summary>/health (every check) and /alive (checks tagged "live"), both with a JSON body, in every environment.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);

        // Probes carry no token and must never be turned away by a service's fallback policy or rate limiter.
        app.MapHealthChecks(HealthEndpointPath, new HealthCheckOptions
        {
            ResponseWriter = HealthResponseWriter.WriteAsync,
        }).AllowAnonymous().DisableRateLimiting().DisableHttpMetrics();

        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
            ResponseWriter = HealthResponseWriter.WriteAsync,
        }).AllowAnonymous().DisableRateLimiting().DisableHttpMetrics();

        return app;
    }
}

internal sealed class ServiceDefaultsMarker;
