using System.Net.Http.Json;
using Bazaar.Dashboard;
using Bazaar.Dashboard.Otlp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bazaar.IntegrationTests.Dashboard;

/// <summary>
/// The dashboard's telemetry half (OTLP receiver, SQLite store, JSON API) on free loopback ports, over a data
/// directory that outlives the host so a test can restart it.
/// </summary>
internal sealed class TelemetryHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TelemetryHost(WebApplication app, string dataDirectory)
    {
        _app = app;
        DataDirectory = dataDirectory;
        Api = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
        OtlpEndpoint = app.Services.GetRequiredService<OtlpReceiverHost>().Address!;
    }

    public string DataDirectory { get; }

    public HttpClient Api { get; }

    /// <summary>The receiver's base address; exporters append /v1/traces, /v1/logs, /v1/metrics.</summary>
    public Uri OtlpEndpoint { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<TelemetryHost> StartAsync(string? dataDirectory = null, Action<DashboardOptions>? configure = null)
    {
        dataDirectory ??= Directory.CreateTempSubdirectory("bazaar-dashboard-").FullName;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddDashboardTelemetry(builder.Configuration, options =>
        {
            options.OtlpUrl = "http://127.0.0.1:0";
            options.DataDirectory = dataDirectory;
            configure?.Invoke(options);
        });
        var app = builder.Build();
        app.MapDashboardTelemetryApi();
        await app.StartAsync();
        return new TelemetryHost(app, dataDirectory);
    }

    /// <summary>Polls the JSON API until <paramref name="accept"/> holds or the deadline passes.</summary>
    public async Task<T> PollAsync<T>(string path, Func<T?, bool> accept, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        T? last = default;
        while (DateTime.UtcNow < deadline)
        {
            using var response = await Api.GetAsync(path);
            if (response.IsSuccessStatusCode)
            {
                last = await response.Content.ReadFromJsonAsync<T>();
                if (accept(last)) return last!;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"GET {path} did not return what the test expects in time; last answer: {System.Text.Json.JsonSerializer.Serialize(last)}");
    }

    public async ValueTask DisposeAsync()
    {
        Api.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
