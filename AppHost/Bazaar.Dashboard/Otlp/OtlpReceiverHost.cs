using Bazaar.Dashboard.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Bazaar.Dashboard.Otlp;

/// <summary>
/// The OTLP receiver on a listener of its own (http://127.0.0.1:18889 by default), apart from the
/// dashboard's pages: services export to it all the time, and its address must not move with the UI's.
/// </summary>
public sealed partial class OtlpReceiverHost(
    IOptions<DashboardOptions> options,
    TelemetryIngestor ingestor,
    ReceiverStatistics statistics,
    ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>The address actually bound (differs from the configured one when the port was 0).</summary>
    public Uri? Address { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // No reload-on-change: that watches the content root (the working directory) recursively with inotify, and
        // the telemetry database lives under it (.bazaar/dashboard), so every SQLite write woke a watcher thread
        // (about a tenth of the receiver's CPU samples under load). The receiver reads no appsettings anyway.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.WebHost.UseUrls(options.Value.OtlpUrl);
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(ingestor);
        builder.Services.AddSingleton(statistics);
        builder.Services.AddProblemDetails();
        var app = builder.Build();
        app.MapOtlpReceiver();
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException exception)
        {
            // Without a receiver the dashboard still shows resources and console logs; telemetry is what is lost.
            LogCannotListen(loggerFactory.CreateLogger<OtlpReceiverHost>(), exception, options.Value.OtlpUrl);
            await app.DisposeAsync();
            return;
        }
        _app = app;
        Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        LogListening(loggerFactory.CreateLogger<OtlpReceiverHost>(), Address);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null) await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The OTLP receiver cannot listen on {Url}; services' telemetry will not reach the dashboard. Choose another address with --otlp-url")]
    private static partial void LogCannotListen(ILogger logger, Exception exception, string url);

    [LoggerMessage(Level = LogLevel.Information, Message = "OTLP receiver (http/protobuf) listening on {Address}")]
    private static partial void LogListening(ILogger logger, Uri address);
}
