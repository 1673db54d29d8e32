using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Bazaar.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Bazaar.UnitTests.ServiceDefaults;

public sealed class TelemetryTests
{
    [Fact]
    public async Task The_resource_names_the_service_and_its_replica_from_the_OTEL_variables()
    {
        using IHost host = await StartExportingHostAsync("http://127.0.0.1:1", new()
        {
            ["OTEL_SERVICE_NAME"] = "catalog-api",
            ["OTEL_RESOURCE_ATTRIBUTES"] = "service.instance.id=catalog-api-2",
        });

        Resource resource = host.Services.GetRequiredService<TracerProvider>().GetResource();
        var attributes = resource.Attributes.ToDictionary(a => a.Key, a => a.Value);

        Assert.Equal("catalog-api", attributes["service.name"]);
        Assert.Equal("catalog-api-2", attributes["service.instance.id"]);
        await host.StopAsync();
    }

    [Fact]
    public async Task With_an_OTLP_endpoint_set_traces_metrics_and_logs_are_exported_over_http_protobuf_at_the_configured_pace()
    {
        var received = new ConcurrentQueue<(string Path, string? ContentType, long Length)>();
        await using WebApplication collector = await StartCollectorAsync(received);
        using IHost host = await StartExportingHostAsync(collector.Urls.Single(), []);

        PlaceAnOrder(host);

        await Eventually.HoldsAsync(
            () => new[] { "/v1/traces", "/v1/logs", "/v1/metrics" }.All(path => received.Any(r => r.Path == path)),
            "the collector has received traces, logs and metrics",
            TimeSpan.FromSeconds(3));
        await host.StopAsync();
        Assert.All(received, r => Assert.Equal("application/x-protobuf", r.ContentType));
        Assert.All(received, r => Assert.True(r.Length > 0));
    }

    [Fact]
    public async Task A_collector_that_never_answers_holds_the_stop_no_longer_than_the_delivery_budget()
    {
        // Accepts connections (the kernel does, up to the backlog) and never reads or answers: a hung dashboard.
        var collector = new TcpListener(IPAddress.Loopback, 0);
        collector.Start();
        try
        {
            // Metrics at the SDK's default pace, so the stop's flush exports them itself (on the stopping thread, as the
            // SDK's metric flush does) while the spans and logs exported after 100 ms still wait on the collector.
            IHost host = await StartExportingHostAsync(
                $"http://127.0.0.1:{((IPEndPoint)collector.LocalEndpoint).Port}", new() { ["OTEL_METRIC_EXPORT_INTERVAL"] = "60000" });
            Assert.NotNull(host.Services.GetService<LoggerProvider>());
            PlaceAnOrder(host);
            await Task.Delay(500);

            var stopping = Stopwatch.StartNew();
            await host.StopAsync();
            host.Dispose();

            // The SDK's own limits held it 21 s (measured with the admin app), past the AppHost's SIGKILL at 10 s.
            Assert.True(stopping.Elapsed < TelemetryFlush.DeliveryBudget + TimeSpan.FromSeconds(3),
                $"stopping took {stopping.Elapsed.TotalSeconds:0.0} s with a collector that never answers");
        }
        finally
        {
            collector.Stop();
        }
    }

    private static async Task<WebApplication> StartCollectorAsync(ConcurrentQueue<(string Path, string? ContentType, long Length)> received)
    {
        WebApplicationBuilder collectorBuilder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        collectorBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        collectorBuilder.Logging.ClearProviders();
        WebApplication collector = collectorBuilder.Build();
        collector.MapPost("/v1/{signal}", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            received.Enqueue((request.Path, request.ContentType, body.Length));
            return TypedResults.Ok();
        });
        await collector.StartAsync();
        return collector;
    }

    private static async Task<IHost> StartExportingHostAsync(string collector, Dictionary<string, string?> settings)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "telemetry-test",
            // The SDK's own defaults are 5 s for spans and logs and 60 s for metrics: arrival within 3 s shows these are read.
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        IHost host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static void PlaceAnOrder(IHost host)
    {
        using var source = new ActivitySource("Bazaar.UnitTests.Telemetry");
        using (source.StartActivity("placing an order"))
        {
            host.Services.GetRequiredService<ILogger<TelemetryTests>>().LogWarning("An order was placed");
        }
    }

    /// <summary>
    /// A service with the defaults, whose request spans are collected in memory as an exporter would see them. Other tests
    /// run web servers in this process at the same time, so only the spans that name this server's port are kept.
    /// </summary>
    private static async Task<(WebApplication App, HttpClient Client, ConcurrentQueue<Activity> Exported)> StartTracedAsync()
    {
        var exported = new ConcurrentQueue<Activity>();
        var exporter = new CollectingExporter(exported);
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.AddServiceDefaults();
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddProcessor(new SimpleActivityExportProcessor(exporter)));
        WebApplication app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGet("/api/items/{id:int}", (int id) => TypedResults.Ok(id));
        app.MapGet("/boom", string () => throw new InvalidOperationException("failed"));
        app.MapMethods("/api/things", ["GET", "DELETE"], () => TypedResults.NoContent());
        await app.StartAsync();
        exporter.Port = new Uri(app.Urls.Single()).Port;
        return (app, new HttpClient { BaseAddress = new Uri(app.Urls.Single()) }, exported);
    }

    [Fact]
    public async Task Health_probes_leave_no_spans_while_other_requests_do()
    {
        var (app, client, exported) = await StartTracedAsync();
        await using WebApplication _ = app;

        (await client.GetAsync("/health")).Dispose();
        (await client.GetAsync("/alive")).Dispose();
        (await client.GetAsync("/api/items/7")).Dispose();

        await Eventually.HoldsAsync(() => exported.Any(a => Equals(a.GetTagItem("url.path"), "/api/items/7")), "the /api/items/7 span is exported");
        Assert.DoesNotContain(exported, a => Equals(a.GetTagItem("url.path"), "/health"));
        Assert.DoesNotContain(exported, a => Equals(a.GetTagItem("url.path"), "/alive"));
    }

    [Fact]
    public async Task A_request_span_is_named_by_its_route_and_carries_method_and_status()
    {
        var (app, client, exported) = await StartTracedAsync();
        await using WebApplication _ = app;

        (await client.GetAsync("/api/items/7")).Dispose();
        (await client.GetAsync("/boom")).Dispose();

        // Each span is exported only after its response went out, and the client's own spans may come first: wait for both by name.
        await Eventually.HoldsAsync(() => exported.Any(a => Equals(a.GetTagItem("url.path"), "/api/items/7")) && exported.Any(a => Equals(a.GetTagItem("url.path"), "/boom")),
            "both request spans are exported");
        Activity item = exported.Single(a => Equals(a.GetTagItem("url.path"), "/api/items/7"));
        Assert.Equal("GET /api/items/{id:int}", item.DisplayName);
        Assert.Equal("GET", item.GetTagItem("http.request.method"));
        Assert.Equal("/api/items/{id:int}", item.GetTagItem("http.route"));
        Assert.Equal(200, item.GetTagItem("http.response.status_code"));
        Assert.Equal(ActivityStatusCode.Unset, item.Status);
        Assert.Equal("1.1", item.GetTagItem("network.protocol.version"));
        Assert.Equal("127.0.0.1", item.GetTagItem("server.address"));
        Assert.Equal(new Uri(app.Urls.Single()).Port, item.GetTagItem("server.port"));
        Activity boom = exported.Single(a => Equals(a.GetTagItem("url.path"), "/boom"));
        Assert.Equal(500, boom.GetTagItem("http.response.status_code"));
        Assert.Equal(ActivityStatusCode.Error, boom.Status);
    }

    [Fact]
    public async Task One_endpoint_called_with_two_methods_names_each_span_by_its_own_method()
    {
        var (app, client, exported) = await StartTracedAsync();
        await using WebApplication _ = app;

        foreach (HttpMethod method in new[] { HttpMethod.Get, HttpMethod.Delete, HttpMethod.Get, HttpMethod.Delete })
        {
            using var request = new HttpRequestMessage(method, "/api/things");
            (await client.SendAsync(request)).Dispose();
        }

        await Eventually.HoldsAsync(() => exported.Count(span => span.Kind == ActivityKind.Server) >= 4, "the four server spans are exported");
        Activity[] served = [.. exported.Where(span => span.Kind == ActivityKind.Server)];
        Assert.All(served, span => Assert.Equal($"{span.GetTagItem("http.request.method")} /api/things", span.DisplayName));
        Assert.Equal(2, served.Count(span => span.DisplayName == "DELETE /api/things"));
    }

    [Fact]
    public async Task A_call_through_service_discovery_carries_the_trace_to_the_service_it_reaches()
    {
        var (app, _, exported) = await StartTracedAsync();
        await using WebApplication _ = app;
        HostApplicationBuilder callerBuilder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        callerBuilder.Configuration["services:catalog-api:http:0"] = app.Urls.Single();
        callerBuilder.Logging.ClearProviders();
        callerBuilder.AddServiceDefaults();
        using IHost caller = callerBuilder.Build();

        HttpClient client = caller.Services.GetRequiredService<IHttpClientFactory>().CreateClient();
        (await client.GetAsync("http://catalog-api/api/items/7")).Dispose();

        await Eventually.HoldsAsync(() => exported.Any(a => a.Kind == ActivityKind.Client) && exported.Any(a => a.Kind == ActivityKind.Server),
            "the client and the server span are exported");
        Activity clientSpan = exported.Single(a => a.Kind == ActivityKind.Client);
        Activity serverSpan = exported.Single(a => a.Kind == ActivityKind.Server);
        Assert.Equal(clientSpan.TraceId, serverSpan.TraceId);
        Assert.Equal(clientSpan.SpanId, serverSpan.ParentSpanId);
        Assert.Equal("GET", clientSpan.GetTagItem("http.request.method"));
        Assert.Equal("127.0.0.1", clientSpan.GetTagItem("server.address"));
        Assert.Equal(200, clientSpan.GetTagItem("http.response.status_code"));
    }

    private sealed class CollectingExporter(ConcurrentQueue<Activity> exported) : BaseExporter<Activity>
    {
        public int? Port { get; set; }

        public override ExportResult Export(in Batch<Activity> batch)
        {
            foreach (Activity activity in batch)
            {
                if (Port is { } port && Equals(activity.GetTagItem("server.port"), port))
                {
                    exported.Enqueue(activity);
                }
            }

            return ExportResult.Success;
        }
    }
}
