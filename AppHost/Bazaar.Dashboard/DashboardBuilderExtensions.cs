using Bazaar.Dashboard.Access;
using Bazaar.Dashboard.Api;
using Bazaar.Dashboard.Components;
using Bazaar.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Bazaar.Dashboard;

public static class DashboardBuilderExtensions
{
    // One dashboard per application: a second call would map every page twice and bind the OTLP port twice.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IDistributedApplicationBuilder, object> Added = [];

    /// <summary>
    /// Adds the dashboard to the AppHost's web server (default http://127.0.0.1:18888): resources with actions,
    /// console logs, structured logs, traces and metrics, plus the OTLP receiver at the AppHost's OTLP address
    /// (default http://127.0.0.1:18889) storing telemetry in the data directory.
    /// </summary>
    public static IDistributedApplicationBuilder AddDashboard(this IDistributedApplicationBuilder builder, Action<DashboardOptions>? configure = null)
    {
        if (!Added.TryAdd(builder, new object())) return builder;
        var engine = builder.Options;
        return builder.ConfigureDashboard(
            web =>
            {
                web.Services.AddDashboardTelemetry(web.Configuration, options =>
                {
                    options.OtlpUrl = engine.OtlpEndpointUrl;
                    options.DataDirectory = engine.DataDirectory ?? Path.Combine(engine.ProjectRoot ?? FindSolutionRoot() ?? Directory.GetCurrentDirectory(), ".bazaar");
                    configure?.Invoke(options);
                });
                web.Services.AddRazorComponents().AddInteractiveServerComponents();
                // Circuits and antiforgery tokens live as long as this process; in-memory keys also keep the AppHost
                // from writing a key ring to ~/.aspnet (which may not be writable where it runs).
                web.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
                web.Services.AddSingleton<ResourceActions>();
                web.Services.AddSingleton<ShopFigures>();
                var urls = web.WebHost.GetSetting(WebHostDefaults.ServerUrlsKey) ?? "";
                var remote = urls.Split(';', StringSplitOptions.RemoveEmptyEntries).Any(BrowserTokenAccess.IsRemoteAddress);
                var token = web.Configuration[$"{DashboardOptions.SectionName}:{nameof(DashboardOptions.BrowserToken)}"] is { Length: > 0 } configured
                    ? configured
                    : BrowserTokenAccess.NewToken();
                web.Services.AddSingleton(new BrowserTokenAccess(token, remote));
            },
            app =>
            {
                var access = app.Services.GetRequiredService<BrowserTokenAccess>();
                access.Use(app);
                if (access.Required)
                {
                    // Printed, not logged: the token is a secret for the person at this terminal, not for log files.
                    var url = (app.Configuration[WebHostDefaults.ServerUrlsKey] ?? "").Split(';')[0].TrimEnd('/');
                    Console.WriteLine($"Dashboard login: {url}/login?t={access.Token}");
                }
                // An open page holds its circuit's WebSocket, which Kestrel's stop waits for until the shutdown timeout
                // (30 s; seen in a dump: CloseAllConnectionsAsync waiting on the hub's connection), and the telemetry
                // store's drain then finds its token cancelled. Stopping ends them at once; the browser shows Blazor's
                // reconnect notice and reloads when the AppHost is back.
                var stopping = app.Lifetime.ApplicationStopping;
                app.Use(async (context, next) =>
                {
                    if (!context.Request.Path.StartsWithSegments("/_blazor"))
                    {
                        await next(context);
                        return;
                    }
                    using var abort = stopping.Register(context.Abort);
                    await next(context);
                });
                app.UseAntiforgery();
                app.MapDashboardEndpoints();
                app.MapTelemetryApi();
                app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
            });
    }

    private static string? FindSolutionRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Aspire.sln"))) return directory.FullName;
            }
        }
        return null;
    }
}
