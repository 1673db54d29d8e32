using System.Net.Http.Json;
using Bazaar.ServiceDefaults.Health;
using Microsoft.Extensions.Options;

namespace Bazaar.Admin.Health;

/// <summary>What the admin knows of one service's health: its /health answer, or why there is none.</summary>
public sealed record ServiceHealth(string Service, string Status, IReadOnlyList<HealthCheckResponse> Checks, string? Problem);

public sealed class AdminOptions
{
    public const string SectionName = "Admin";

    public IList<string> Services { get; set; } = [];

    /// <summary>The services whose dead-letter queues the dead-letters page offers (those that consume events).</summary>
    public IList<string> DeadLetterQueues { get; set; } = [];
}

/// <summary>Asks each service's /health through service discovery (http://catalog-api/health reaches a replica).</summary>
public sealed class ServiceHealthProbe(HttpClient http, IConfiguration configuration, IOptions<AdminOptions> options)
{
    public const string ClientName = "health-probe";

    /// <summary>The shop's services from Admin:Services, then any other service the AppHost gave this app endpoints for.</summary>
    public IReadOnlyList<string> Services()
    {
        IEnumerable<string> referenced = configuration.GetSection("services").GetChildren().Select(child => child.Key);
        return [.. options.Value.Services.Concat(referenced).Distinct(StringComparer.OrdinalIgnoreCase)];
    }

    public async Task<ServiceHealth> ProbeAsync(string service, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(configuration[$"services:{service}:http:0"]))
        {
            return new ServiceHealth(service, "Not referenced", [],
                $"This app has no endpoint for it (services:{service}:http:0); the AppHost gives one with .WithReference({service}).");
        }

        try
        {
            // 503 still carries the JSON report, so the body is read whatever the status.
            using HttpResponseMessage response = await http.GetAsync($"http://{service}/health", cancellationToken);
            HealthResponse? report = await response.Content.ReadFromJsonAsync<HealthResponse>(cancellationToken);
            return report is null
                ? new ServiceHealth(service, "Unknown", [], $"HTTP {(int)response.StatusCode} without a health report.")
                : new ServiceHealth(service, report.Status, report.Checks, null);
        }
        catch (Exception exception) when (exception is HttpRequestException or InvalidOperationException or System.Text.Json.JsonException
                                          || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new ServiceHealth(service, "Unreachable", [], exception.Message);
        }
    }

    public Task<ServiceHealth[]> ProbeAllAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(Services().Select(service => ProbeAsync(service, cancellationToken)));
}

public static class ServiceHealthProbeExtensions
{
    public static IHostApplicationBuilder AddServiceHealthProbe(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.SectionName);
#pragma warning disable EXTEXP0001 // experimental in Microsoft.Extensions.Http.Resilience 11; the documented way to opt one client out
        builder.Services.AddHttpClient<ServiceHealthProbe>(ServiceHealthProbe.ClientName, client => client.Timeout = TimeSpan.FromSeconds(5))
            // A 503 from /health is the answer to show, not a failure to retry for half a minute.
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        return builder;
    }
}
