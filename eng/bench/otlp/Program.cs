using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using Bazaar.Dashboard;
using Bazaar.Dashboard.Api;
using Bazaar.Dashboard.Otlp;
using Bazaar.Dashboard.Otlp.Proto;
using Bazaar.Dashboard.Telemetry;
using Google.Protobuf;

// Modes:
//   ingest   --seconds N --senders N --spans-per-request N   OTLP senders against an in-process receiver with SQLite on; prints spans/s stored
//   receiver --otlp URL --api URL --data DIR                   the receiver and JSON API alone, for the latency run
//   service                                                    a ServiceDefaults service with GET /json (exports when OTEL_EXPORTER_OTLP_ENDPOINT is set)
var mode = args.FirstOrDefault() ?? "";
string Option(string name, string fallback)
{
    var index = Array.IndexOf(args, "--" + name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
}

switch (mode)
{
    case "ingest":
        await IngestAsync(int.Parse(Option("seconds", "10"), CultureInfo.InvariantCulture), int.Parse(Option("senders", "4"), CultureInfo.InvariantCulture), int.Parse(Option("spans-per-request", "512"), CultureInfo.InvariantCulture), Option("data", Path.Combine(Path.GetTempPath(), "bazaar-otlp-bench-" + Guid.NewGuid().ToString("N"))));
        break;
    case "store":
        StoreOnly(int.Parse(Option("rows", "400000"), CultureInfo.InvariantCulture), Option("data", Path.Combine(Path.GetTempPath(), "bazaar-otlp-bench-" + Guid.NewGuid().ToString("N"))));
        break;
    case "probe":
        Probe();
        break;
    case "receiver":
        await ReceiverAsync(Option("otlp", "http://127.0.0.1:4318"), Option("api", "http://127.0.0.1:4319"), Option("data", Path.Combine(Path.GetTempPath(), "bazaar-otlp-bench-" + Guid.NewGuid().ToString("N"))));
        break;
    case "service":
        await ServiceAsync(args);
        break;
    default:
        Console.Error.WriteLine("usage: Bazaar.Bench.Otlp ingest|receiver|service [options]");
        Environment.ExitCode = 2;
        break;
}

static WebApplication Receiver(string otlpUrl, string apiUrl, string data, int maxSpans)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseUrls(apiUrl);
    builder.Services.AddDashboardTelemetry(builder.Configuration, o =>
    {
        o.OtlpUrl = otlpUrl;
        o.DataDirectory = data;
        o.MaxSpans = maxSpans;
    });
    var app = builder.Build();
    app.MapTelemetryApi();
    return app;
}

static async Task ReceiverAsync(string otlpUrl, string apiUrl, string data)
{
    await using var app = Receiver(otlpUrl, apiUrl, data, 1_000_000);
    await app.RunAsync();
    Directory.Delete(data, recursive: true);
}

static async Task IngestAsync(int seconds, int senders, int spansPerRequest, string data)
{
    // Bounded like a real run (the default limit), so trimming is part of what is measured.
    await using var app = Receiver("http://127.0.0.1:0", "http://127.0.0.1:0", data, 200_000);
    await app.StartAsync();
    var otlp = app.Services.GetRequiredService<OtlpReceiverHost>().Address!;
    var statistics = app.Services.GetRequiredService<ReceiverStatistics>();
    var bodies = Enumerable.Range(0, 16).Select(i => TraceRequest(spansPerRequest, i).ToByteArray()).ToArray();
    using var http = new HttpClient { BaseAddress = otlp };

    var sent = 0L;
    var stopwatch = Stopwatch.StartNew();
    var until = TimeSpan.FromSeconds(seconds);
    await Task.WhenAll(Enumerable.Range(0, senders).Select(async sender =>
    {
        var n = sender;
        while (stopwatch.Elapsed < until)
        {
            using var content = new ByteArrayContent(bodies[n++ % bodies.Length]);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
            using var response = await http.PostAsync("v1/traces", content);
            response.EnsureSuccessStatusCode();
            Interlocked.Add(ref sent, spansPerRequest);
        }
    }));
    var sendSeconds = stopwatch.Elapsed.TotalSeconds;
    // The rate counts only what reached SQLite: wait for the queue to drain.
    while (statistics.StoredSpans < sent) await Task.Delay(10);
    var storedSeconds = stopwatch.Elapsed.TotalSeconds;
    var counts = await app.Services.GetRequiredService<TelemetryStore>().GetCountsAsync(CancellationToken.None);
    var size = new FileInfo(app.Services.GetRequiredService<TelemetryStore>().DatabasePath).Length;
    await app.StopAsync();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"spans_sent={sent} send_seconds={sendSeconds:F2} stored_seconds={storedSeconds:F2} spans_per_second={sent / storedSeconds:F0} rows_kept={counts.Spans} db_mb={size / 1048576.0:F1} senders={senders} spans_per_request={spansPerRequest}"));
    Directory.Delete(data, recursive: true);
}

// Spans shaped like a service's: a server span with HTTP attributes and children for the database and cache.
static ExportTraceServiceRequest TraceRequest(int spans, int seed)
{
    var random = new Random(seed);
    var scope = new ScopeSpans { Scope = new InstrumentationScope { Name = "Microsoft.AspNetCore" } };
    var now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
    for (var i = 0; i < spans; i++)
    {
        var traceId = new byte[16];
        var spanId = new byte[8];
        random.NextBytes(traceId);
        random.NextBytes(spanId);
        var span = new Span
        {
            TraceId = ByteString.CopyFrom(traceId),
            SpanId = ByteString.CopyFrom(spanId),
            Name = i % 3 == 0 ? "GET /api/catalog/items" : i % 3 == 1 ? "SELECT catalogdb.catalog_items" : "GET cache",
            Kind = i % 3 == 0 ? Span.Types.SpanKind.Server : Span.Types.SpanKind.Client,
            StartTimeUnixNano = now + (ulong)i * 1000,
            EndTimeUnixNano = now + (ulong)i * 1000 + (ulong)random.Next(100_000, 5_000_000),
        };
        span.Attributes.Add(Attribute("http.request.method", "GET"));
        span.Attributes.Add(Attribute("url.path", "/api/catalog/items"));
        span.Attributes.Add(Attribute("server.address", "127.0.0.1"));
        span.Attributes.Add(new KeyValue { Key = "http.response.status_code", Value = new AnyValue { IntValue = 200 } });
        scope.Spans.Add(span);
    }
    var resource = new Resource();
    resource.Attributes.Add(Attribute("service.name", "catalog-api"));
    resource.Attributes.Add(Attribute("service.instance.id", "catalog-api-" + (seed % 2)));
    var request = new ExportTraceServiceRequest();
    request.ResourceSpans.Add(new ResourceSpans { Resource = resource, ScopeSpans = { scope } });
    return request;
}

// Storage alone, without HTTP or protobuf: the ceiling of the ingest path.
static void StoreOnly(int rows, string data)
{
    var converter = new OtlpConverter();
    var spans = Enumerable.Range(0, 8).SelectMany(i => converter.Convert(TraceRequest(512, i))).ToList();
    using var store = new TelemetryStore(Microsoft.Extensions.Options.Options.Create(new DashboardOptions { DataDirectory = data, MaxSpans = 200_000 }));
    var stopwatch = Stopwatch.StartNew();
    for (var written = 0; written < rows; written += spans.Count)
    {
        store.Write([new TelemetryBatch(spans, [], [])]);
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"store_only rows={rows} seconds={stopwatch.Elapsed.TotalSeconds:F2} rows_per_second={rows / stopwatch.Elapsed.TotalSeconds:F0}"));
    Directory.Delete(data, recursive: true);
}

// Which part of a span insert costs what (a diagnostic, not reported).
static void Probe()
{
    foreach (var (label, index, trim, attributes) in new[] { ("plain", false, false, false), ("index", true, false, false), ("index+attrs", true, false, true), ("index+attrs+trim", true, true, true) })
    {
        var file = Path.Combine(Path.GetTempPath(), "probe-" + Guid.NewGuid().ToString("N") + ".db");
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + file);
        connection.Open();
        using (var setup = connection.CreateCommand())
        {
            setup.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; CREATE TABLE t (id INTEGER PRIMARY KEY, trace TEXT NOT NULL, a TEXT NOT NULL, b INTEGER NOT NULL, c INTEGER NOT NULL);" + (index ? "CREATE INDEX ix ON t(trace);" : "");
            setup.ExecuteNonQuery();
        }
        var random = new Random(1);
        var json = attributes ? "{\"http.request.method\":\"GET\",\"url.path\":\"/api/catalog/items\",\"server.address\":\"127.0.0.1\",\"http.response.status_code\":200}" : "{}";
        var stopwatch = Stopwatch.StartNew();
        const int rows = 200_000;
        for (var batch = 0; batch < rows / 5000; batch++)
        {
            using var transaction = connection.BeginTransaction();
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO t (trace, a, b, c) VALUES ($t, $a, $b, $c)";
            var pt = insert.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter { ParameterName = "$t" });
            var pa = insert.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter { ParameterName = "$a" });
            var pb = insert.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter { ParameterName = "$b" });
            var pc = insert.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter { ParameterName = "$c" });
            insert.Prepare();
            for (var i = 0; i < 5000; i++)
            {
                pt.Value = Convert.ToHexStringLower(BitConverter.GetBytes(random.NextInt64())) + Convert.ToHexStringLower(BitConverter.GetBytes(random.NextInt64()));
                pa.Value = json; pb.Value = (long)i; pc.Value = (long)batch;
                insert.ExecuteNonQuery();
            }
            if (trim)
            {
                using var delete = connection.CreateCommand();
                delete.Transaction = transaction;
                delete.CommandText = "DELETE FROM t WHERE id <= (SELECT MAX(id) FROM t) - 50000";
                delete.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"probe {label}: {rows / stopwatch.Elapsed.TotalSeconds:F0} rows/s"));
        connection.Close();
    }
}

static KeyValue Attribute(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

static async Task ServiceAsync(string[] args)
{
    var builder = WebApplication.CreateSlimBuilder(args);
    builder.AddServiceDefaults();
    builder.Logging.SetMinimumLevel(LogLevel.Warning);
    var app = builder.Build();
    app.MapDefaultEndpoints();
    app.MapGet("/json", () => TypedResults.Ok(new { id = 1, name = "Bench", price = 9.99m }));
    await app.RunAsync();
}
