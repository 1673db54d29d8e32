using Bazaar.ServiceDefaults.Health;
using Bazaar.ServiceDefaults.Hosting;
using Bazaar.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Scalar.AspNetCore;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The one line every Bazaar service adds to join the platform: Aspire's ServiceDefaults template (service discovery,
/// the standard resilience handler, OpenTelemetry, health checks) plus what Bazaar needs beyond it.
/// </summary>
public static class Extensions
{
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";
    public const string LiveTag = "live";

    /// <summary>The options of every HttpClient's standard resilience handler (Microsoft.Extensions.Http.Resilience).</summary>
    public const string ResilienceSection = "Resilience:Http";

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
        // Aspire's Redis client records a span per command (several per request: the token deny list, the caches). In the
        // end-to-end test's trace, after 200 orders, catalog-api's request spans never arrived (twice in CI), most likely
        // dropped from a full export queue. Off unless configured.
        builder.Configuration["Aspire:StackExchange:Redis:DisableTracing"] ??= "true";
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.ConfigureLoopbackUrls();

        builder.Services.AddServiceDiscovery();
        IConfigurationSection resilience = builder.Configuration.GetSection(ResilienceSection);
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // Resilience outside discovery: each retry resolves again and may reach another replica.
            http.AddStandardResilienceHandler(resilience.Bind);
            http.AddServiceDiscovery();
        });

        builder.Services.AddOpenApi();
        builder.Services.AddProblemDetails();
        builder.Services.AddOptions<DependencyFailureOptions>();
        builder.Services.TryAddSingleton<DependencyUnavailableHandler>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IExceptionHandler, DependencyUnavailableHandler>(s => s.GetRequiredService<DependencyUnavailableHandler>()));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IDeveloperPageExceptionFilter, DependencyUnavailableHandler>(s => s.GetRequiredService<DependencyUnavailableHandler>()));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, ProblemDetailsStartupFilter>());

        return builder;
    }

    /// <summary>
    /// Logs, metrics and traces through OpenTelemetry.Extensions.Hosting, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT
    /// is set. The SDK reads the other OTEL_* settings (protocol, service name, resource attributes, export pace) from
    /// configuration itself. Stopping spends at most <see cref="TelemetryFlush.DeliveryBudget"/> delivering what is left.
    /// </summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                // Polly: the standard resilience handler's retries and circuit-breaker transitions.
                .AddMeter("Bazaar.*", "Polly"))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName, "Bazaar.*")
                // The orchestrator probes every few seconds; those spans would bury the requests people look for.
                .AddAspNetCoreInstrumentation(options => options.Filter = context => !IsProbe(context.Request.Path))
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        builder.Services.AddHostedService<TelemetryFlush>();
        return builder;
    }

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments(HealthEndpointPath) || path.StartsWithSegments(AlivenessEndpointPath);

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // "self" answers /alive: the process serves requests. Dependencies are checked by /health only.
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
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

    /// <summary>
    /// /health (every check) and /alive (checks tagged "live"), both with a JSON body, in every environment; in Development
    /// also the OpenAPI document at /openapi/v1.json and the Scalar API reference at /scalar.
    /// </summary>
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

        if (app.Environment.IsDevelopment())
        {
            app.MapOpenApi().AllowAnonymous();
            app.MapScalarApiReference().AllowAnonymous();
        }

        return app;
    }
}

internal sealed class ServiceDefaultsMarker;
