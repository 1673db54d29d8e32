using System.Net.Http.Json;
using Bazaar.ServiceDefaults.Health;

namespace Bazaar.Admin.Health;

/// <summary>What the admin knows of one service's health: its /health answer, or why there is none.</summary>
public sealed record ServiceHealth(string Service, string Status, IReadOnlyList<HealthCheckResponse> Checks, string? Problem);

public sealed class AdminOptions
{
    public const string SectionName = "Admin";

    public IList<string> Services { get; set; } = [];
}

/// <summary>Asks each service's /health through service discovery (http://catalog-api/health reaches a replica).</summary>
public sealed class ServiceHealthProbe(HttpClient http)
{
    public const string ClientName = "health-probe";

    public async Task<ServiceHealth> ProbeAsync(string service, CancellationToken cancellationToken)
    {
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

    public Task<ServiceHealth[]> ProbeAllAsync(IEnumerable<string> services, CancellationToken cancellationToken) =>
        Task.WhenAll(services.Select(service => ProbeAsync(service, cancellationToken)));
}

public static class ServiceHealthProbeExtensions
{
    public static IHostApplicationBuilder AddServiceHealthProbe(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.SectionName);
        builder.Services.AddHttpClient<ServiceHealthProbe>(ServiceHealthProbe.ClientName, client => client.Timeout = TimeSpan.FromSeconds(5))
            // A 503 from /health is the answer to show, not a failure to retry for half a minute.
            .RemoveStandardResilienceHandler();
        return builder;
    }
}
