using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Bazaar.Dashboard.Api;
using Bazaar.Dashboard.Otlp;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Bazaar.IntegrationTests.Dashboard;

/// <summary>A real OpenTelemetry .NET exporter (http/protobuf) talks to the receiver; the JSON API shows what arrived.</summary>
public sealed class OtlpReceiverTests : IAsyncLifetime
{
    private TelemetryHost _host = null!;

    public async Task InitializeAsync() => _host = await TelemetryHost.StartAsync();

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        Directory.Delete(_host.DataDirectory, recursive: true);
    }

    private ResourceBuilder Service(string name) =>
        ResourceBuilder.CreateEmpty().AddService(name, serviceInstanceId: name + "-0");

    private void Exporter(OtlpExporterOptions options, string signal)
    {
        options.Protocol = OtlpExportProtocol.HttpProtobuf;
        options.Endpoint = new Uri(_host.OtlpEndpoint, signal);
    }

    [Fact]
    public async Task Spans_sent_by_the_OpenTelemetry_exporter_appear_in_the_trace_api_with_their_attributes_and_events()
    {
        var sourceName = "Bazaar.Tests.Receiver." + Guid.NewGuid().ToString("N");
        using var source = new ActivitySource(sourceName);
        using (var tracing = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(Service("receiver-tests"))
            .AddSource(sourceName)
            .AddOtlpExporter(o => Exporter(o, "v1/traces"))
            .Build())
        {
            string traceId;
            using (var root = source.StartActivity("GET /api/catalog/items", ActivityKind.Server)!)
            {
                traceId = root.TraceId.ToHexString();
                root.SetTag("http.request.method", "GET");
                root.SetTag("http.response.status_code", 200);
                using var child = source.StartActivity("SELECT catalogdb", ActivityKind.Client)!;
                child.SetTag("db.system", "mysql");
                child.AddEvent(new ActivityEvent("cache.miss", tags: new ActivityTagsCollection { ["cache.key"] = "items:1" }));
                child.SetStatus(ActivityStatusCode.Error, "deadlock");
            }
            Assert.True(tracing.ForceFlush(10_000));

            var trace = await _host.PollAsync<JsonElement>($"/api/traces/{traceId}", t => t.ValueKind == JsonValueKind.Object && t.GetProperty("spans").GetArrayLength() == 2);

            var spans = trace.GetProperty("spans").EnumerateArray().ToList();
            Assert.Equal("GET /api/catalog/items", spans[0].GetProperty("name").GetString());
            Assert.Equal("receiver-tests", spans[0].GetProperty("resource").GetString());
            Assert.Equal("receiver-tests-0", spans[0].GetProperty("instance").GetString());
            Assert.Equal("GET", spans[0].GetProperty("attributes").GetProperty("http.request.method").GetString());
            Assert.Equal(200, spans[0].GetProperty("attributes").GetProperty("http.response.status_code").GetInt32());
            Assert.Equal(spans[0].GetProperty("spanId").GetString(), spans[1].GetProperty("parentSpanId").GetString());
            Assert.Equal("mysql", spans[1].GetProperty("attributes").GetProperty("db.system").GetString());
            Assert.Equal("Error", spans[1].GetProperty("status").GetString());
            var cacheMiss = Assert.Single(spans[1].GetProperty("events").EnumerateArray());
            Assert.Equal("cache.miss", cacheMiss.GetProperty("name").GetString());
            Assert.Equal("items:1", cacheMiss.GetProperty("attributes").GetProperty("cache.key").GetString());

            var list = await _host.PollAsync<JsonElement>("/api/traces?resource=receiver-tests&limit=10", l => l.GetArrayLength() > 0);
            var summary = Assert.Single(list.EnumerateArray(), t => t.GetProperty("traceId").GetString() == traceId);
            Assert.Equal("GET /api/catalog/items", summary.GetProperty("rootName").GetString());
            Assert.Equal(2, summary.GetProperty("spanCount").GetInt32());
            Assert.Equal(1, summary.GetProperty("errorCount").GetInt32());
        }
    }

    [Fact]
    public async Task Logs_sent_by_the_OpenTelemetry_exporter_appear_with_level_attributes_and_the_trace_they_belong_to()
    {
        var sourceName = "Bazaar.Tests.Receiver." + Guid.NewGuid().ToString("N");
        using var source = new ActivitySource(sourceName);
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == sourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        string traceId;
        using (var loggerFactory = LoggerFactory.Create(logging => logging.AddOpenTelemetry(o =>
        {
            o.SetResourceBuilder(Service("receiver-logs"));
            o.AddOtlpExporter(e => Exporter(e, "v1/logs"));
        })))
        {
            var logger = loggerFactory.CreateLogger("Bazaar.Orders");
            using var activity = source.StartActivity("place order")!;
            traceId = activity.TraceId.ToHexString();
            logger.LogWarning("Order {OrderId} waits for stock", 42);
        }

        var logs = await _host.PollAsync<JsonElement>($"/api/logs?traceId={traceId}", l => l.GetArrayLength() == 1);

        var log = logs[0];
        Assert.Equal("receiver-logs", log.GetProperty("resource").GetString());
        Assert.Equal("Bazaar.Orders", log.GetProperty("scope").GetString());
        Assert.Equal("Warning", log.GetProperty("level").GetString());
        Assert.Contains("waits for stock", log.GetProperty("message").GetString());
        Assert.Equal(42, log.GetProperty("attributes").GetProperty("OrderId").GetInt32());
        var filtered = await _host.PollAsync<JsonElement>("/api/logs?resource=receiver-logs&minSeverity=17", _ => true);
        Assert.Equal(0, filtered.GetArrayLength());
    }

    [Fact]
    public async Task Metrics_sent_by_the_OpenTelemetry_exporter_list_their_instruments_and_chart_counters_and_histograms()
    {
        var meterName = "Bazaar.Tests.Receiver." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(meterName);
        var orders = meter.CreateCounter<long>("bazaar.orders.placed");
        var duration = meter.CreateHistogram<double>("bazaar.checkout.duration", unit: "ms");
        using (var metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(Service("receiver-metrics"))
            .AddMeter(meterName)
            .AddOtlpExporter((e, reader) =>
            {
                Exporter(e, "v1/metrics");
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 60_000;
            })
            .Build())
        {
            orders.Add(3, new KeyValuePair<string, object?>("status", "paid"));
            for (var i = 1; i <= 100; i++) duration.Record(i);
            Assert.True(metrics.ForceFlush(10_000));
        }

        var instruments = await _host.PollAsync<JsonElement>("/api/metrics/instruments?resource=receiver-metrics", i => i.GetArrayLength() == 2);
        Assert.All(instruments.EnumerateArray(), i => Assert.Equal(meterName, i.GetProperty("meter").GetString()));

        var counter = await _host.PollAsync<JsonElement>($"/api/metrics/series?resource=receiver-metrics&meter={meterName}&name=bazaar.orders.placed", _ => true);
        var counterLine = Assert.Single(counter.GetProperty("instances").EnumerateArray());
        Assert.Equal("receiver-metrics-0", counterLine.GetProperty("instance").GetString());
        Assert.Equal(3, counterLine.GetProperty("points")[0].GetProperty("value").GetDouble());

        var histogram = await _host.PollAsync<JsonElement>($"/api/metrics/series?resource=receiver-metrics&meter={meterName}&name=bazaar.checkout.duration", _ => true);
        var point = histogram.GetProperty("instances")[0].GetProperty("points")[0];
        Assert.Equal("ms", histogram.GetProperty("instrument").GetProperty("unit").GetString());
        Assert.InRange(point.GetProperty("p50").GetDouble(), 25, 75);
        Assert.InRange(point.GetProperty("p99").GetDouble(), 75, 100);
    }

    [Fact]
    public async Task A_malformed_protobuf_body_gets_400_problem_details_is_counted_and_the_receiver_keeps_working()
    {
        using var client = new HttpClient { BaseAddress = _host.OtlpEndpoint };
        using var garbage = new ByteArrayContent([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]);
        garbage.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");

        using var response = await client.PostAsync("v1/traces", garbage);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var stats = await _host.Api.GetFromJsonAsync<TelemetryApi.TelemetryStats>("/api/telemetry/stats");
        Assert.Equal(1, stats!.MalformedRequests);

        using var empty = new ByteArrayContent([]);
        empty.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        using var valid = await client.PostAsync("v1/logs", empty);
        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
    }

    [Fact]
    public async Task A_gzip_body_that_inflates_beyond_the_limit_gets_400_even_when_it_is_valid_protobuf()
    {
        // Unknown varint fields (15 = 0) only: a valid export request, of 32 MB once inflated, a few dozen KB sent.
        var inflated = new byte[32_000_000];
        for (var i = 0; i < inflated.Length; i += 2) inflated[i] = 0x78;
        using var compressed = new MemoryStream();
        await using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            await gzip.WriteAsync(inflated);
        }
        using var client = new HttpClient { BaseAddress = _host.OtlpEndpoint };
        using var bomb = new ByteArrayContent(compressed.ToArray());
        bomb.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        bomb.Headers.ContentEncoding.Add("gzip");

        using var response = await client.PostAsync("v1/traces", bomb);

        Assert.True(inflated.Length > OtlpEndpoints.MaxInflatedBytes);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("inflates to more than", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_body_that_is_not_protobuf_gets_415()
    {
        using var client = new HttpClient { BaseAddress = _host.OtlpEndpoint };

        using var response = await client.PostAsJsonAsync("v1/metrics", new { resourceMetrics = Array.Empty<object>() });

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task The_trace_api_answers_bad_queries_with_400_and_unknown_traces_with_404()
    {
        Assert.Equal(HttpStatusCode.BadRequest, (await _host.Api.GetAsync("/api/traces?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _host.Api.GetAsync("/api/traces?minDurationMs=-1")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _host.Api.GetAsync("/api/traces/not-a-trace")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _host.Api.GetAsync($"/api/traces/{new string('a', 32)}")).StatusCode);
    }
}
