using System.Globalization;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Bazaar.Dashboard;
using Bazaar.Hosting;
using Bazaar.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using static Microsoft.Playwright.Assertions;

namespace Bazaar.EndToEndTests.Dashboard;

/// <summary>
/// Debian's chromium drives the dashboard of a small model (a Redis server and an executable) run by the real
/// engine, with telemetry sent over OTLP the way services send it.
/// </summary>
public sealed class DashboardBrowserTests : IAsyncLifetime
{
    private static readonly string ScreenshotDirectory = Path.Combine(Path.GetTempPath(), "bazaar-dashboard-screenshots");

    private string _dataDirectory = null!;
    private DistributedApplication _app = null!;
    private Uri _otlp = null!;
    private Chromium? _chromium;

    public async Task InitializeAsync()
    {
        _dataDirectory = Directory.CreateTempSubdirectory("bazaar-dashboard-e2e-").FullName;
        _otlp = new Uri($"http://127.0.0.1:{Loopback.FreePort()}");
        var builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions
        {
            DataDirectory = _dataDirectory,
            DashboardUrl = "http://127.0.0.1:0",
            OtlpEndpointUrl = _otlp.ToString().TrimEnd('/'),
            UseFreePorts = true,
            ConsoleLogging = false,
            StopTimeout = TimeSpan.FromSeconds(5),
        });
        var cache = builder.AddRedis("cache");
        builder.AddExecutable("ticker", "/bin/sh", _dataDirectory, "-c", "while true; do echo tick; sleep 0.5; done")
            .WithReference(cache).WaitFor(cache);
        builder.AddDashboard();
        builder.AddDashboard(); // a second call is ignored, not a second set of pages on the same routes
        _app = builder.Build();
        using var starting = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await _app.StartAsync(starting.Token);
        var notifications = (ResourceNotificationService)_app.Services.GetService(typeof(ResourceNotificationService))!;
        await notifications.WaitForResourceAsync("cache", s => s.State == ResourceState.Running, starting.Token);
        await notifications.WaitForResourceAsync("ticker", s => s.State == ResourceState.Running, starting.Token);

        _chromium = await Chromium.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        if (_chromium is not null)
        {
            await _chromium.DisposeAsync();
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    [Fact]
    public async Task The_dashboard_shows_resources_running_restarts_one_from_the_page_and_opens_a_traces_waterfall()
    {
        var page = await _chromium!.NewPageAsync(1400, 900);
        var documentLoads = 0;
        page.Load += (_, _) => documentLoads++;
        await page.GotoAsync(_app.DashboardUrl + "/resources");
        await Chromium.ExpectCircuitAsync(page);
        // A value in the page's window lives as long as the document: a reload or a full navigation would drop it.
        await page.EvaluateAsync("() => window.bazaarSamePage = 42");

        await Expect(page.Locator("tr[data-resource='cache'] .state")).ToHaveTextAsync("Running");
        await Expect(page.Locator("tr[data-resource='ticker'] .state")).ToHaveTextAsync("Running");
        await Expect(page.Locator("#dependency-graph g.node")).ToHaveCountAsync(2);
        await page.Locator("#health-cache summary").ClickAsync();
        await Expect(page.Locator("#health-cache table.kv tr")).Not.ToHaveCountAsync(0);
        await Screenshot(page, "resources");
        var restartsBefore = int.Parse(await page.Locator("tr[data-resource='ticker'] .restarts").InnerTextAsync());
        var pidBefore = await page.Locator("tr[data-resource='ticker'] td.mono").First.InnerTextAsync();

        await page.Locator("tr[data-resource='ticker'] button.restart").ClickAsync();

        // Pushed over the circuit as the engine publishes the changes: the process is replaced and runs again.
        await Expect(page.Locator("tr[data-resource='ticker'] td.mono").First).Not.ToHaveTextAsync(pidBefore);
        await Expect(page.Locator("tr[data-resource='ticker'] .state")).ToHaveTextAsync("Running");
        await Expect(page.Locator("tr[data-resource='ticker'] td.mono").First).Not.ToBeEmptyAsync();
        await Expect(page.Locator("tr[data-resource='ticker'] .restarts")).ToHaveTextAsync((restartsBefore + 1).ToString(CultureInfo.InvariantCulture));
        Assert.Equal(42, await page.EvaluateAsync<int>("() => window.bazaarSamePage"));
        Assert.Equal(1, documentLoads);
        await Expect(page.Locator("#health-cache")).ToHaveAttributeAsync("open", "");

        // The links move within the same document (the circuit renders the next page), and the list shows a trace
        // that arrives while it is open.
        await page.Locator("nav a", new PageLocatorOptions { HasText = "Traces" }).ClickAsync();
        await Expect(page.Locator("#trace-table")).ToBeVisibleAsync();
        var traceId = SendCrossServiceTrace();
        await Expect(page.Locator($"tr[data-trace='{traceId}']")).ToBeVisibleAsync();
        await Screenshot(page, "traces");
        await page.Locator($"tr[data-trace='{traceId}'] a.trace-link").ClickAsync();

        await Expect(page.Locator("#waterfall .span-row")).ToHaveCountAsync(3);
        await Expect(page.Locator("#waterfall")).ToContainTextAsync("SELECT catalogdb.items");
        await page.Locator("#waterfall .span-row summary").Nth(2).ClickAsync();
        await Expect(page.Locator("#waterfall")).ToContainTextAsync("db.system");
        await Screenshot(page, "waterfall");
        Assert.Equal(42, await page.EvaluateAsync<int>("() => window.bazaarSamePage"));
        Assert.Equal(1, documentLoads);

        await page.GotoAsync(_app.DashboardUrl + "/console?resource=ticker");
        await Chromium.ExpectCircuitAsync(page);
        await Expect(page.Locator("div.console")).ToContainTextAsync("tick");
        // A live tail: new lines come in while the page is open.
        var lines = await page.Locator("div.console .lines > div").CountAsync();
        await Expect(page.Locator("div.console .lines > div")).Not.ToHaveCountAsync(lines);
        await page.Locator("#console-search").FillAsync("no line says this");
        await Expect(page.Locator("div.console .lines > div")).ToHaveCountAsync(0);
        await page.Locator("#console-search").FillAsync("tick");
        await Expect(page.Locator("div.console .lines > div").First).ToContainTextAsync("tick");
        var download = await page.RunAndWaitForDownloadAsync(() => page.Locator("#console-download").ClickAsync());
        Assert.Equal("ticker.log", download.SuggestedFilename);
        Assert.Contains(" OUT tick", await File.ReadAllTextAsync(await download.PathAsync()));
        await Screenshot(page, "console");

        SendMetricsAndLogs(traceId);
        await page.GotoAsync(_app.DashboardUrl + "/metrics");
        await Chromium.ExpectCircuitAsync(page);
        await page.Locator("a", new PageLocatorOptions { HasText = "bazaar.checkout.duration" }).ClickAsync();
        await Expect(page.Locator("#metric-chart")).ToContainTextAsync("P99");
        await Expect(page.Locator("#metric-chart polyline, #metric-chart circle").First).ToBeAttachedAsync();
        await page.Locator("#filter-minutes").SelectOptionAsync("15");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("minutes=15"));
        await Expect(page.Locator("#metric-chart")).ToContainTextAsync("P99");
        await Screenshot(page, "metrics");

        await page.GotoAsync(_app.DashboardUrl + "/structured?level=13");
        await Chromium.ExpectCircuitAsync(page);
        await Expect(page.Locator("#structured")).ToContainTextAsync("Stock is low");
        // Error and above: the warning leaves the table without a reload; back to Warning+ and it returns.
        await page.Locator("#filter-level").SelectOptionAsync("17");
        await Expect(page.Locator("#structured")).Not.ToContainTextAsync("Stock is low");
        await page.Locator("#filter-level").SelectOptionAsync("13");
        await Expect(page.Locator("#structured")).ToContainTextAsync("Stock is low");
        await page.Locator("#structured a", new PageLocatorOptions { HasText = traceId[..8] }).ClickAsync();
        await Expect(page.Locator("#waterfall .span-row")).ToHaveCountAsync(3);
        await Screenshot(page, "structured-to-trace");

        await page.GotoAsync(_app.DashboardUrl + "/traces");
        await Chromium.ExpectCircuitAsync(page);
        await Expect(page.Locator("#trace-table tbody tr")).Not.ToHaveCountAsync(0);
        await page.Locator("#clear-telemetry").ClickAsync();
        await page.Locator("#clear-telemetry-confirm").ClickAsync();
        await Expect(page.Locator("#trace-table tbody tr")).ToHaveCountAsync(0);
        // No circuit error along the way (blazor.web.js shows this bar when one happens).
        await Expect(page.Locator("#blazor-error-ui")).ToBeAttachedAsync();
        await Expect(page.Locator("#blazor-error-ui")).ToBeHiddenAsync();

        // Stopping the AppHost with the page open ends its circuit at once. (The WebSocket held Kestrel's stop for the
        // 30 s shutdown timeout, after which the telemetry drain's token was cancelled and the stop threw.)
        await _app.StopAsync();
        await Expect(page.Locator("#components-reconnect-modal")).ToBeAttachedAsync();
    }

    /// <summary>The page is interactive: blazor.web.js loaded and its circuit rendered the page again.</summary>
    private void SendMetricsAndLogs(string traceId)
    {
        var meterName = "Bazaar.Tests.Checkout." + Guid.NewGuid().ToString("N")[..8];
        using var meter = new Meter(meterName);
        var duration = meter.CreateHistogram<double>("bazaar.checkout.duration", unit: "ms");
        var orders = meter.CreateCounter<long>("bazaar.orders.placed");
        using (var metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("storefront"))
            .AddMeter(meterName)
            .AddOtlpExporter((o, reader) =>
            {
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.Endpoint = new Uri(_otlp, "v1/metrics");
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 60_000;
            })
            .Build())
        {
            for (var i = 1; i <= 200; i++) duration.Record(i % 50);
            orders.Add(5, new KeyValuePair<string, object?>("status", "paid"));
            orders.Add(2, new KeyValuePair<string, object?>("status", "cancelled"));
            Assert.True(metrics.ForceFlush(10_000));
            for (var i = 1; i <= 200; i++) duration.Record(i % 80);
            Assert.True(metrics.ForceFlush(10_000));
        }
        using var loggerFactory = LoggerFactory.Create(logging => logging.AddOpenTelemetry(o =>
        {
            o.SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("catalog-api"));
            o.AddOtlpExporter(e =>
            {
                e.Protocol = OtlpExportProtocol.HttpProtobuf;
                e.Endpoint = new Uri(_otlp, "v1/logs");
            });
        }));
        var parent = new ActivityContext(ActivityTraceId.CreateFromString(traceId), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        using var source = new ActivitySource("Bazaar.Tests.Logs");
        using var listener = new ActivityListener { ShouldListenTo = s => s == source, Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded };
        ActivitySource.AddActivityListener(listener);
        using var activity = source.StartActivity("log scope", ActivityKind.Internal, parent);
        loggerFactory.CreateLogger("Bazaar.Catalog.Stock").LogWarning("Stock is low for {ProductId}", 17);
    }

    /// <summary>storefront → catalog-api → its database, each service exporting with its own resource, as two processes would.</summary>
    private string SendCrossServiceTrace()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        using var frontSource = new ActivitySource("Bazaar.Tests.Storefront." + id);
        using var catalogSource = new ActivitySource("Bazaar.Tests.Catalog." + id);
        using var front = Provider("storefront", frontSource.Name);
        using var catalog = Provider("catalog-api", catalogSource.Name);
        string traceId;
        using (var root = frontSource.StartActivity("GET /products", ActivityKind.Server)!)
        {
            traceId = root.TraceId.ToHexString();
            root.SetTag("http.route", "/products");
            using var server = catalogSource.StartActivity("GET /api/catalog/items", ActivityKind.Server)!;
            using var query = catalogSource.StartActivity("SELECT catalogdb.items", ActivityKind.Client)!;
            query.SetTag("db.system", "mysql");
        }
        Assert.True(front.ForceFlush(10_000));
        Assert.True(catalog.ForceFlush(10_000));
        return traceId;
    }

    private TracerProvider Provider(string service, string source) => Sdk.CreateTracerProviderBuilder()
        .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService(service))
        .AddSource(source)
        .AddOtlpExporter(o =>
        {
            o.Protocol = OtlpExportProtocol.HttpProtobuf;
            o.Endpoint = new Uri(_otlp, "v1/traces");
        })
        .Build();

    private static async Task Screenshot(IPage page, string name)
    {
        Directory.CreateDirectory(ScreenshotDirectory);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });
    }
}
