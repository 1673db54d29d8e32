using System.Runtime.InteropServices;
using Bazaar.Hosting.Dashboard;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bazaar.Hosting;

/// <summary>The running application: every resource of the model, the state server, and the services to watch and command them.</summary>
public sealed class DistributedApplication : IAsyncDisposable
{
    private readonly DistributedApplicationOptions _options;
    private readonly ServiceProvider _services;
    private readonly ApplicationOrchestrator _orchestrator;
    private readonly StateServer? _stateServer;
    private readonly SemaphoreSlim _stopLock = new(1, 1);
    private bool _started;
    private bool _stopped;

    internal DistributedApplication(
        DistributedApplicationOptions options,
        DistributedApplicationModel model,
        IServiceCollection services,
        IReadOnlyList<(Action<WebApplicationBuilder> Services, Action<WebApplication> Endpoints)> dashboardExtensions)
    {
        _options = options;
        services.AddSingleton(options);
        services.AddSingleton(model);
        services.AddSingleton(TimeProvider.System);
        services.AddLogging(logging =>
        {
            if (options.ConsoleLogging)
            {
                logging.AddSimpleConsole(console =>
                {
                    console.SingleLine = true;
                    console.TimestampFormat = "HH:mm:ss ";
                });
            }
        });
        services.AddSingleton<ResourceNotificationService>();
        services.AddSingleton<ResourceLoggerService>();
        services.AddSingleton<ApplicationOrchestrator>();
        services.AddSingleton(sp => new ResourceCommandService(sp.GetRequiredService<ApplicationOrchestrator>()));
        _services = services.BuildServiceProvider();
        _orchestrator = _services.GetRequiredService<ApplicationOrchestrator>();
        if (options.DashboardUrl is { Length: > 0 } url)
        {
            _stateServer = new StateServer(url, _services, dashboardExtensions);
        }
    }

    public static IDistributedApplicationBuilder CreateBuilder(string[] args) => new DistributedApplicationBuilder(CommandLine.Parse(args));

    public static IDistributedApplicationBuilder CreateBuilder(DistributedApplicationOptions options) => new DistributedApplicationBuilder(options);

    /// <summary>DistributedApplicationModel, ResourceNotificationService, ResourceLoggerService, ResourceCommandService and more.</summary>
    public IServiceProvider Services => _services;

    /// <summary>The state server's address once started (its port is chosen when the configured one is 0).</summary>
    public string? DashboardUrl => _stateServer?.Url;

    public string DataDirectory => _orchestrator.DataDirectory;

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_started)
        {
            return;
        }

        _started = true;
        await _orchestrator.PrepareAsync(cancellationToken).ConfigureAwait(false);
        if (_stateServer is not null)
        {
            await _stateServer.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        await _orchestrator.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops everything in reverse dependency order: SIGTERM first, SIGKILL after the stop timeout.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _stopLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            await _orchestrator.StopAsync(cancellationToken).ConfigureAwait(false);
            _orchestrator.ReleasePorts();
            if (_stateServer is not null)
            {
                await _stateServer.StopAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _stopLock.Release();
        }
    }

    /// <summary>Starts, runs until Ctrl+C or SIGTERM (or <paramref name="cancellationToken"/>), then stops everything.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        using var shutdown = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void OnSignal(PosixSignalContext context)
        {
            // The engine stops its processes itself, in order; the runtime must not end the AppHost first.
            context.Cancel = true;
            shutdown.Cancel();
        }

        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using PosixSignalRegistration sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);
        try
        {
            await StartAsync(shutdown.Token).ConfigureAwait(false);
            await Task.Delay(Timeout.Infinite, shutdown.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            // Ctrl+C, SIGTERM or the caller: time to stop.
        }
        finally
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public void Run() => RunAsync().GetAwaiter().GetResult();

    /// <summary>The connection string of a resource, as its consumers receive it.</summary>
    public async Task<string?> GetConnectionStringAsync(string resourceName, CancellationToken cancellationToken = default)
    {
        await _orchestrator.PrepareAsync(cancellationToken).ConfigureAwait(false);
        IResource resource = _services.GetRequiredService<DistributedApplicationModel>().Find(resourceName)
            ?? throw new DistributedApplicationException($"There is no resource named '{resourceName}'.");
        return resource is IResourceWithConnectionString withConnectionString
            ? withConnectionString.GetConnectionString()
            : throw new DistributedApplicationException($"'{resourceName}' has no connection string.");
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_stateServer is not null)
        {
            await _stateServer.DisposeAsync().ConfigureAwait(false);
        }

        await _services.DisposeAsync().ConfigureAwait(false);
    }
}
