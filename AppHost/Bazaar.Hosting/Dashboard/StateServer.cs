using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bazaar.Hosting.Dashboard;

/// <summary>
/// The engine's web server (default http://127.0.0.1:18888): GET /api/resources and a plain HTML page. The dashboard
/// library adds its own services and endpoints through <see cref="IDistributedApplicationBuilder.ConfigureDashboard"/>.
/// </summary>
internal sealed class StateServer(
    string configuredUrl,
    IServiceProvider engineServices,
    IReadOnlyList<(Action<WebApplicationBuilder> Services, Action<WebApplication> Endpoints)> extensions) : IAsyncDisposable
{
    private WebApplication? _app;

    private string? _boundUrl;

    public string Url => _boundUrl ?? configuredUrl;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // No reload-on-change: it watches the working directory recursively with inotify, where the dashboard's
        // SQLite file lives (.bazaar/dashboard), and every telemetry write woke the watcher thread.
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.WebHost.UseUrls(configuredUrl);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // The dashboard sees the same engine services as the AppHost: one model, one stream of snapshots and logs.
        builder.Services.AddSingleton(engineServices.GetRequiredService<DistributedApplicationModel>());
        builder.Services.AddSingleton(engineServices.GetRequiredService<DistributedApplicationOptions>());
        builder.Services.AddSingleton(engineServices.GetRequiredService<ResourceNotificationService>());
        builder.Services.AddSingleton(engineServices.GetRequiredService<ResourceLoggerService>());
        builder.Services.AddSingleton(engineServices.GetRequiredService<ResourceCommandService>());
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        foreach ((Action<WebApplicationBuilder> services, _) in extensions)
        {
            services(builder);
        }

        _app = builder.Build();
        _app.MapStateEndpoints(htmlAtRoot: extensions.Count == 0);
        foreach ((_, Action<WebApplication> endpoints) in extensions)
        {
            endpoints(_app);
        }

        try
        {
            await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new DistributedApplicationException(
                $"The state server cannot listen on {configuredUrl}: {ex.Message}. Choose another address with --dashboard-url or BAZAAR_DASHBOARD_URL.", ex);
        }

        _boundUrl = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
