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
//   receiver --otlp URL --api URL --data DIR [--max-spans N]   the receiver and JSON API alone (SQLite on, bounded at 200,000 spans by default)
//   send     --otlp URL --api URL --seconds N --senders N --spans-per-request N --rate N
//                                                              posts span batches to a receiver (rate 0: as fast as it answers); prints spans/s stored
//   service                                                    a ServiceDefaults service with GET /json (exports when OTEL_EXPORTER_OTLP_ENDPOINT is set)
//   sink     --url URL                                         answers every OTLP POST with 200 after reading the body: the exporter's cost alone
//   load     --url URL --rate N --seconds N --connections N    open-loop GETs at a fixed rate; latency from each request's issue
//   paired   --urls URL,URL,... --rate N --seconds N --connections N
//                                                              the same open loop against every URL at once, requests taking turns
//                                                              (N per second each), so every side meets the same moment's machine
var mode = args.FirstOrDefault() ?? "";
string Option(string name, string fallback)
{
    var index = Array.IndexOf(args, "--" + name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
}

switch (mode)
{
    case "send":
        await SendAsync(new Uri(Option("otlp", "http://127.0.0.1:4318")), new Uri(Option("api", "http://127.0.0.1:4319")), int.Parse(Option("seconds", "10"), CultureInfo.InvariantCulture), int.Parse(Option("senders", "4"), CultureInfo.InvariantCulture), int.Parse(Option("spans-per-request", "512"), CultureInfo.InvariantCulture), int.Parse(Option("rate", "0"), CultureInfo.InvariantCulture));
        break;
    case "store":
        StoreOnly(int.Parse(Option("rows", "400000"), CultureInfo.InvariantCulture), Option("data", Path.Combine(Path.GetTempPath(), "bazaar-otlp-bench-" + Guid.NewGuid().ToString("N"))));
        break;
    case "probe":
        Probe();
        break;
    case "split":
        for (var round = 0; round < 3; round++) Split(Option("data", Path.Combine(Path.GetTempPath(), "bazaar-otlp-bench-" + Guid.NewGuid().ToString("N"))));
        break;
    case "receiver":
        await ReceiverAsync(Option("otlp", "http://127.0.0.1:4318"), Option("api", "http://127.0.0.1:4319"), Option("data", Path.Combine(Path.GetTempPath(), "bazaar-otlp-bench-" + Guid.NewGuid().ToString("N"))), int.Parse(Option("max-spans", "200000"), CultureInfo.InvariantCulture));
        break;
    case "service":
        await ServiceAsync(args);
        break;
    case "sink":
        await SinkAsync(Option("url", "http://127.0.0.1:4318"));
        break;
    case "paired":
        await PairedLoadAsync([.. Option("urls", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(u => new Uri(u))], int.Parse(Option("rate", "1000"), CultureInfo.InvariantCulture), int.Parse(Option("seconds", "20"), CultureInfo.InvariantCulture), int.Parse(Option("connections", "8"), CultureInfo.InvariantCulture));
        break;
    case "load":
        await PairedLoadAsync([new Uri(Option("url", "http://127.0.0.1:5000/json"))], int.Parse(Option("rate", "2000"), CultureInfo.InvariantCulture), int.Parse(Option("seconds", "10"), CultureInfo.InvariantCulture), int.Parse(Option("connections", "16"), CultureInfo.InvariantCulture));
        break;
    default:
        Console.Error.WriteLine("usage: Bazaar.Bench.Otlp ingest|receiver|service [options]");
        Environment.ExitCode = 2;
        break;
}

static WebApplication Receiver(string otlpUrl, string apiUrl, string data, int maxSpans)
{
    // As the receiver's own host: no inotify watch over the working directory (see OtlpReceiverHost).
    var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
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

static async Task ReceiverAsync(string otlpUrl, string apiUrl, string data, int maxSpans)
{
    await using var app = Receiver(otlpUrl, apiUrl, data, maxSpans);
    await app.RunAsync();
    Directory.Delete(data, recursive: true);
}

// A sender in its own process, as exporters are: posts 512-span requests (at a fixed offered rate, or as fast as the
// receiver answers when rate is 0), then reads the receiver's counters until every span sent is stored or dropped.
static async Task SendAsync(Uri otlp, Uri api, int seconds, int senders, int spansPerRequest, int rate)
{
    var bodies = Enumerable.Range(0, 16).Select(i => TraceRequest(spansPerRequest, i).ToByteArray()).ToArray();
    using var http = new HttpClient();
    var before = await StatsAsync(http, api);
    var sent = 0L;
    var stopwatch = Stopwatch.StartNew();
    var until = TimeSpan.FromSeconds(seconds);
    // Each sender owns an equal share of the offered rate; request i of a sender is due at i / share.
    var requestsPerSecond = rate > 0 ? (double)rate / spansPerRequest / senders : 0;
    await Task.WhenAll(Enumerable.Range(0, senders).Select(async sender =>
    {
        for (var n = 0; stopwatch.Elapsed < until; n++)
        {
            if (requestsPerSecond > 0)
            {
                var wait = TimeSpan.FromSeconds(n / requestsPerSecond) - stopwatch.Elapsed;
                if (wait > TimeSpan.Zero) await Task.Delay(wait);
            }
            using var content = new ByteArrayContent(bodies[(sender + n) % bodies.Length]);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
            using var response = await http.PostAsync(new Uri(otlp, "v1/traces"), content);
            response.EnsureSuccessStatusCode();
            Interlocked.Add(ref sent, spansPerRequest);
        }
    }));
    var sendSeconds = stopwatch.Elapsed.TotalSeconds;
    TelemetryApi.TelemetryStats after;
    while (true)
    {
        after = await StatsAsync(http, api);
        if (after.ReceivedSpans + after.DroppedSpans - before.ReceivedSpans - before.DroppedSpans >= sent) break;
        await Task.Delay(20);
    }
    var storedSeconds = stopwatch.Elapsed.TotalSeconds;
    var stored = after.ReceivedSpans - before.ReceivedSpans;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"offered={(rate > 0 ? rate.ToString(CultureInfo.InvariantCulture) : "max")} spans_sent={sent} spans_stored={stored} spans_dropped={after.DroppedSpans - before.DroppedSpans} send_seconds={sendSeconds:F2} stored_seconds={storedSeconds:F2} spans_per_second={stored / storedSeconds:F0} rows_kept={after.StoredSpans}"));
}

static async Task<TelemetryApi.TelemetryStats> StatsAsync(HttpClient http, Uri api) =>
    (await http.GetFromJsonAsync<TelemetryApi.TelemetryStats>(new Uri(api, "api/telemetry/stats")))!;

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


// An OTLP endpoint that stores nothing: with it, a service pays for its exporter but no receiver competes for the CPU.
static async Task SinkAsync(string url)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseUrls(url);
    var app = builder.Build();
    app.MapPost("/v1/{signal}", async (HttpRequest request, CancellationToken ct) =>
    {
        await request.Body.CopyToAsync(Stream.Null, ct);
        return Results.Bytes([], "application/x-protobuf");
    });
    await app.RunAsync();
}

// Open loop: request i is due at start + i / rate whether or not earlier ones have answered (a stall does not lower
// the offered load, as it would in a closed loop such as wrk). Latency counts from the moment the request is issued:
// the driver wakes on a timer of about 1 ms granularity, and counting from the due time would add that timer's
// lateness, the same on both sides, to every figure.
// Every side in one stream: request i goes to side i mod n, each side at the given rate, so a burst of other work on
// the machine lands on every side alike instead of on whichever ran in that second. Each side has its own connections.
// Prints one line per side, in the order given.
static async Task PairedLoadAsync(Uri[] urls, int rate, int seconds, int connections)
{
    var handlers = urls.Select(_ => new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan }).ToArray();
    var clients = handlers.Select(h => new HttpClient(h) { Timeout = TimeSpan.FromSeconds(30) }).ToArray();
    var sides = urls.Length;
    var total = rate * seconds * sides;
    var latencies = new double[total];
    var failed = new bool[total];
    var pending = new List<Task>(total);
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < total; i++)
    {
        var due = TimeSpan.FromSeconds((double)i / (rate * sides));
        var wait = due - clock.Elapsed;
        if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait);
        var index = i;
        pending.Add(Task.Run(async () =>
        {
            var issued = clock.Elapsed;
            try
            {
                using var response = await clients[index % sides].GetAsync(urls[index % sides], HttpCompletionOption.ResponseContentRead);
                failed[index] = !response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                failed[index] = true;
            }
            latencies[index] = (clock.Elapsed - issued).TotalMilliseconds;
        }));
    }
    await Task.WhenAll(pending);
    var elapsed = clock.Elapsed.TotalSeconds;
    for (var side = 0; side < sides; side++)
    {
        var mine = Enumerable.Range(0, total).Where(i => i % sides == side).Select(i => latencies[i]).Order().ToArray();
        var errors = Enumerable.Range(0, total).Count(i => i % sides == side && failed[i]);
        double At(double q) => mine[Math.Min(mine.Length - 1, (int)(q * mine.Length))];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"url={urls[side]} requests={mine.Length} rate={rate} seconds={elapsed:F2} errors={errors} p50_ms={At(0.50):F3} p90_ms={At(0.90):F3} p99_ms={At(0.99):F3} max_ms={mine[^1]:F3}"));
    }
    foreach (var client in clients) client.Dispose();
    foreach (var handler in handlers) handler.Dispose();
}

// Where a received span's CPU goes, one thread, no HTTP: protobuf decode, conversion to rows, the SQLite insert.
static void Split(string data)
{
    var bodies = Enumerable.Range(0, 16).Select(i => TraceRequest(512, i).ToByteArray()).ToArray();
    const int rounds = 400;
    var spans = rounds * 512;
    var decoded = new ExportTraceServiceRequest[rounds];
    var stopwatch = Stopwatch.StartNew();
    for (var i = 0; i < rounds; i++) decoded[i] = ExportTraceServiceRequest.Parser.ParseFrom(bodies[i % bodies.Length]);
    var decode = stopwatch.Elapsed.TotalMilliseconds;
    var converter = new OtlpConverter();
    var rows = new List<IReadOnlyList<SpanData>>(rounds);
    stopwatch.Restart();
    for (var i = 0; i < rounds; i++) rows.Add(converter.Convert(decoded[i]));
    var convert = stopwatch.Elapsed.TotalMilliseconds;
    // The receiver's own path since session 3: the wire read straight into rows.
    var reader = new OtlpTraceReader();
    stopwatch.Restart();
    for (var i = 0; i < rounds; i++) reader.Read(bodies[i % bodies.Length]);
    var read = stopwatch.Elapsed.TotalMilliseconds;
    using var store = new TelemetryStore(Microsoft.Extensions.Options.Options.Create(new DashboardOptions { DataDirectory = data, MaxSpans = 100_000 }));
    stopwatch.Restart();
    for (var i = 0; i < rounds; i += 16) store.Write([.. rows.Skip(i).Take(16).Select(r => new TelemetryBatch(r, [], []))]);
    var write = stopwatch.Elapsed.TotalMilliseconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"split spans={spans} decode_us={decode * 1000 / spans:F2} convert_us={convert * 1000 / spans:F2} wire_read_us={read * 1000 / spans:F2} store_us={write * 1000 / spans:F2} (per span; decode + convert was the receiver's path before session 3, wire_read is it now; store trims to 100000)"));
    Directory.Delete(data, recursive: true);
}
