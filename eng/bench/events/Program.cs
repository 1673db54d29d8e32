// End-to-end event benchmark: each event is a state row + its outbox row, committed in one transaction per event
// (--producer transaction, the default) or by group commit (--producer group); one relay publishes with confirms; one
// consumer handles it (inbox row + effect row in one transaction) and acknowledges after commit.
// Latency = from the producer's commit returning to the consumer span ending (after its commit and ack).
// Servers: BENCH_MYSQL (server connection string) and BENCH_AMQP if set, else a dedicated set started by the hosting engine.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Bazaar.Data;
using Bazaar.Data.Migrations;
using Bazaar.Messaging;
using Bazaar.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MySqlConnector;

var settings = BenchSettings.Parse(args);
using var cancellation = new CancellationTokenSource(TimeSpan.FromMinutes(10));
TestServers? servers = null;
var mysqlServer = Environment.GetEnvironmentVariable("BENCH_MYSQL");
var amqp = Environment.GetEnvironmentVariable("BENCH_AMQP");
if (mysqlServer is null || amqp is null)
{
    Console.Error.WriteLine("Starting MariaDB and RabbitMQ with the hosting engine...");
    servers = await TestServers.StartDedicatedAsync(redis: false, rabbitMq: true, mySql: true, cancellation.Token);
    mysqlServer = servers.MySqlConnectionString;
    amqp = servers.RabbitMqConnectionString;
}

if (settings.FlushAtCommit is { } flush)
{
    // Only on a server this benchmark owns: 2 = write the redo log at commit, fsync it once a second (a crash of the
    // machine, not of MariaDB, can lose the last second). Shows what the per-commit fsync of this disk costs.
    await using var connection = await new MySqlDataSource(mysqlServer).OpenConnectionAsync(cancellation.Token);
    await using var set = connection.CreateCommand();
    set.CommandText = $"SET GLOBAL innodb_flush_log_at_trx_commit = {flush}";
    await set.ExecuteNonQueryAsync(cancellation.Token);
}

try
{
    var report = new List<string>();
    if (settings.Warmup > 0)
    {
        // Unmeasured: lets the JIT reach its optimised code (tiered compilation) and the servers their steady state, so the
        // first measured phase is not mostly compilation.
        var warmup = await RunPhaseAsync(mysqlServer, amqp, new Phase("warm-up", settings.Warmup, 0), settings, cancellation.Token);
        Console.Error.WriteLine(warmup.Describe());
    }

    // The bare ceiling: the broker and the database alone, in this run, after the warm-up (so the client code is tiered up too).
    var ceiling = await Ceiling.MeasureAsync(mysqlServer, amqp, Math.Min(settings.Phases.Max(p => p.Events), 20_000), cancellation.Token);
    Console.WriteLine($"ceiling: {ceiling}");

    foreach (var phase in settings.Phases)
    {
        var result = await RunPhaseAsync(mysqlServer, amqp, phase, settings, cancellation.Token);
        Console.WriteLine(result.Describe());
        report.Add(result.TableRow());
    }

    if (settings.AppendTo is { } path)
    {
        File.AppendAllText(path, Markdown(settings, report, ceiling));
        Console.Error.WriteLine($"Appended to {path}");
    }
}
finally
{
    if (servers is not null)
    {
        await servers.DisposeAsync();
    }
}

static async Task<PhaseResult> RunPhaseAsync(string mysqlServer, string amqp, Phase phase, BenchSettings settings, CancellationToken cancellationToken)
{
    var database = $"bench_events_{Guid.NewGuid():N}"[..28];
    var databaseConnectionString = new MySqlConnectionStringBuilder(mysqlServer) { Database = database }.ConnectionString;
    var ends = new ConcurrentDictionary<string, long>();
    var handlingStarts = new ConcurrentDictionary<string, long>();
    var publishes = new ConcurrentDictionary<string, long>();
    using var listener = new ActivityListener
    {
        ShouldListenTo = source => source.Name == MessagingTelemetry.Name,
        Sample = (ref ActivityCreationOptions<ActivityContext> options) =>
            options.Kind == ActivityKind.Consumer ? ActivitySamplingResult.AllData : ActivitySamplingResult.PropagationData,
        ActivityStopped = activity =>
        {
            if (activity.Kind == ActivityKind.Consumer && activity.GetTagItem("messaging.message.id") is string id)
            {
                // The consumer span starts when a worker takes the message into its transaction and ends after its commit and ack.
                var end = Stopwatch.GetTimestamp();
                ends[id] = end;
                handlingStarts[id] = end - (long)(activity.Duration.Ticks * (double)Stopwatch.Frequency / TimeSpan.TicksPerSecond);
            }
            else if (activity.Kind == ActivityKind.Producer && activity.GetTagItem("messaging.message.id") is string published)
            {
                // The relay's publish span ends when the message is handed to the client, before the confirm.
                publishes[published] = Stopwatch.GetTimestamp();
            }
        },
    };
    ActivitySource.AddActivityListener(listener);

    var prefix = $"bench{Guid.NewGuid():N}"[..13] + ".";
    IHost BuildHost(bool pipeline)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:benchdb"] = databaseConnectionString,
            ["ConnectionStrings:messaging"] = amqp,
        });
        // Warnings and errors of the relay and the consumer (a failed batch, a retry) go to stderr beside the figures.
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).AddFilter((category, level) => level >= LogLevel.Warning);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.AddMySqlDataSource("benchdb");
        builder.Services.AddSingleton(settings);
        builder.AddRabbitMQClient("messaging");
        var messaging = builder.AddMessaging("benchdb", o =>
        {
            o.Prefix = prefix;
            o.ServiceName = "bench-consumer";
            o.MaxConcurrency = settings.Concurrency;
            o.PrefetchCount = (ushort)settings.Prefetch;
            o.ConsumerBatchSize = settings.ConsumerBatch;
            o.RelayBatchSize = settings.RelayBatch;
            o.MaxEventsPerMessage = settings.EventsPerMessage;
        });
        if (pipeline)
        {
            messaging.AddOutbox().AddConsumer<BenchEvent, BenchHandler>();
        }

        builder.AddMigrations("benchdb", "Bench", [new Migration(1, "0001_bench.sql", """
            CREATE TABLE state_changes (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL);
            CREATE TABLE effects (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL);
            """)]);
        return builder.Build();
    }

    var commits = new ConcurrentDictionary<string, long>();
    if (phase.Rate < 0)
    {
        // Backlog drain: the rows are committed before the relay and the consumer start; measures the pipeline alone.
        using var writer = BuildHost(pipeline: false);
        await writer.StartAsync(cancellationToken);
        var writerSource = writer.Services.GetRequiredService<MySqlDataSource>();
        var backlog = new Outbox(new OutboxSignal(), TimeProvider.System);
        for (var batch = 0; batch < phase.Events; batch += 500)
        {
            await writerSource.InTransactionAsync(async (connection, transaction, t) =>
            {
                for (var n = batch; n < Math.Min(batch + 500, phase.Events); n++)
                {
                    await backlog.AddAsync(transaction, new BenchEvent(n), cancellationToken: t);
                }
            }, cancellationToken);
        }

        await writer.StopAsync(cancellationToken);
    }

    var probe = ServerProbe.For(mysqlServer, amqp);
    using var host = BuildHost(pipeline: true);
    var drainStarted = Stopwatch.GetTimestamp();
    // A drain starts with the host (the relay begins at once), so its cost is counted from before the start.
    var serversAtStart = phase.Rate < 0 ? await probe.TakeAsync(cancellationToken) : null;
    Console.Error.WriteLine($"{phase.Name}: starting the relay and the consumer");
    var cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
    await host.StartAsync(cancellationToken);
    await host.Services.GetRequiredService<EventConsumerHost>().Ready.WaitAsync(cancellationToken);
    var dataSource = host.Services.GetRequiredService<MySqlDataSource>();
    var outbox = host.Services.GetRequiredService<IOutbox>();

    var next = phase.Rate < 0 ? phase.Events : -1;
    var started = phase.Rate < 0 ? drainStarted : Stopwatch.GetTimestamp();
    if (phase.Rate >= 0)
    {
        serversAtStart = await probe.TakeAsync(cancellationToken);
        cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
    }

    var insertState = new SqlStatement("bench.state", "INSERT INTO state_changes (n) VALUES (@n)");

    // --producer group: each writer submits its event to a group commit (Bazaar.Data's TransactionBatcher), which writes
    // the events waiting together in one transaction as one multi-statement command (state rows + outbox rows), as a
    // service under load would. --producer transaction (the default): one transaction per event (or per --per-transaction).
    await using var batcher = settings.GroupCommit
        ? new TransactionBatcher<int, EventEnvelope>(dataSource, "bench.produce", async (connection, transaction, items, token) =>
        {
            var batch = new SqlBatch("bench.produce_batch");
            batch.Insert("INSERT INTO state_changes (n) VALUES");
            foreach (var item in items)
            {
                batch.Row(item);
            }

            batch.End();
            var entries = items.Select(item => OutboxEntry.Capture(new BenchEvent(item))).ToArray();
            outbox.Append(batch, entries);
            await batch.ExecuteAsync(connection, transaction, token);
            return entries.Select(e => e.Envelope).ToArray();
        }, new TransactionBatcherOptions { MaxBatchSize = settings.GroupSize, Writers = settings.GroupWriters })
        : null;

    // MaxDegreeOfParallelism: without it ForEachAsync runs Environment.ProcessorCount (2 here) writers at once, whatever
    // --writers says; every figure before this fix had 2 concurrent writers (--writers 2 reproduces them).
    var writers = new ParallelOptions { MaxDegreeOfParallelism = settings.Writers, CancellationToken = cancellationToken };
    await Parallel.ForEachAsync(Enumerable.Range(0, settings.Writers), writers, async (_, token) =>
    {
        int n;
        var perTransaction = settings.PerTransaction;
        while ((n = Interlocked.Add(ref next, perTransaction) - (perTransaction - 1)) < phase.Events)
        {
            if (phase.Rate > 0)
            {
                var due = started + (long)(n * (double)Stopwatch.Frequency / phase.Rate);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait, token);
                }
            }

            if (batcher is not null)
            {
                var envelope = await batcher.SubmitAsync(n, token);
                commits[envelope.Id.ToString()] = Stopwatch.GetTimestamp();
                continue;
            }

            var count = Math.Min(perTransaction, phase.Events - n);
            var envelopes = await dataSource.InTransactionAsync(async (connection, transaction, t) =>
            {
                var added = new EventEnvelope[count];
                for (var i = 0; i < count; i++)
                {
                    await connection.ExecuteAsync(insertState, new { n = n + i }, transaction, t);
                    added[i] = await outbox.AddAsync(transaction, new BenchEvent(n + i), cancellationToken: t);
                }

                return added;
            }, token);
            var committed = Stopwatch.GetTimestamp();
            foreach (var envelope in envelopes)
            {
                commits[envelope.Id.ToString()] = committed;
            }
        }
    });
    var producedIn = Stopwatch.GetElapsedTime(started);

    var deadline = Stopwatch.StartNew();
    while (ends.Count < phase.Events && deadline.Elapsed < TimeSpan.FromMinutes(2))
    {
        await Task.Delay(20, cancellationToken);
    }

    var finishedIn = Stopwatch.GetElapsedTime(started);
    var cpuPerEvent = (Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart).TotalMicroseconds / Math.Max(1, ends.Count);
    var serversAtEnd = await probe.TakeAsync(cancellationToken);

    var handled = ends.Count;
    var latencies = commits
        .Select(c => ends.TryGetValue(c.Key, out var end) ? Stopwatch.GetElapsedTime(c.Value, end).TotalMilliseconds : double.NaN)
        .Where(l => !double.IsNaN(l))
        .Order()
        .ToArray();
    double[] Split(Func<KeyValuePair<string, long>, double> measure) => commits
        .Where(c => publishes.ContainsKey(c.Key) && ends.ContainsKey(c.Key))
        .Select(measure)
        .Order()
        .ToArray();
    var toPublish = Split(c => Stopwatch.GetElapsedTime(c.Value, publishes[c.Key]).TotalMilliseconds);
    var toEffect = Split(c => Stopwatch.GetElapsedTime(publishes[c.Key], ends[c.Key]).TotalMilliseconds);
    // publish -> effect, in two: until a consumer worker takes the message (broker, delivery, waiting for a worker), then
    // the worker's transaction, commit and ack.
    var toWorker = Split(c => Stopwatch.GetElapsedTime(publishes[c.Key], handlingStarts[c.Key]).TotalMilliseconds);
    var inWorker = Split(c => Stopwatch.GetElapsedTime(handlingStarts[c.Key], ends[c.Key]).TotalMilliseconds);
    await host.StopAsync(cancellationToken);
    await using (var connection = await new MySqlDataSource(mysqlServer).OpenConnectionAsync(cancellationToken))
    await using (var drop = connection.CreateCommand())
    {
        drop.CommandText = $"DROP DATABASE `{database}`";
        await drop.ExecuteNonQueryAsync(cancellationToken);
    }

    return new PhaseResult(phase, handled, producedIn, finishedIn, Percentile(latencies, 0.50), Percentile(latencies, 0.99), latencies.LastOrDefault())
    {
        CpuMicrosecondsPerEvent = cpuPerEvent,
        MySqlCpuPerEvent = ServerProbe.MicrosPerEvent(serversAtStart!.MySqlCpu, serversAtEnd.MySqlCpu, handled),
        AmqpCpuPerEvent = ServerProbe.MicrosPerEvent(serversAtStart.AmqpCpu, serversAtEnd.AmqpCpu, handled),
        Servers = ServerProbe.Describe(serversAtStart, serversAtEnd, handled),
        Split = toPublish.Length == 0 ? "" : string.Create(CultureInfo.InvariantCulture,
            $"; commit -> relay publish P50 {Percentile(toPublish, 0.5):F1} ms, P99 {Percentile(toPublish, 0.99):F1} ms; publish -> effect committed P50 {Percentile(toEffect, 0.5):F1} ms, P99 {Percentile(toEffect, 0.99):F1} ms (publish -> taken by a consumer worker P50 {Percentile(toWorker, 0.5):F1} ms, P99 {Percentile(toWorker, 0.99):F1} ms; worker's transaction, commit and ack P50 {Percentile(inWorker, 0.5):F1} ms, P99 {Percentile(inWorker, 0.99):F1} ms)"),
    };
}

static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

static string Markdown(BenchSettings settings, List<string> rows, string ceiling)
{
    var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
    var memory = File.ReadLines("/proc/meminfo").First().Split(':', 2)[1].Trim();
    return $"""


        ## {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC · integration events end to end (outbox commit -> consumer effect committed)

        Machine: {Environment.ProcessorCount} CPUs ({cpu}), {memory} RAM, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}; MariaDB, RabbitMQ and the benchmark share these CPUs; load average before the run {settings.LoadAverage} (other sessions' builds and tests were running).
        Command: `eng/bench/events.sh {string.Join(' ', settings.Arguments)}` (one relay publishing up to {settings.RelayBatch} rows per transaction, up to {settings.EventsPerMessage} events per message, one consumer with concurrency {settings.Concurrency}, batches of up to {settings.ConsumerBatch} and prefetch {settings.Prefetch}; {settings.Warmup} unmeasured warm-up events first; {settings.Producers}; {(settings.AppendWrites ? "the handler appends its effect row to EventContext.Writes (one round trip per consumer transaction)" : "the handler writes its effect row at once (one round trip per event)")}; persistent messages with publisher confirms; innodb_flush_log_at_trx_commit={settings.FlushAtCommit?.ToString(CultureInfo.InvariantCulture) ?? "1 (default, fsync per commit)"}; latency from the producer's commit to the end of the consumer span, after its commit and ack; thread-pool spin limit {Environment.GetEnvironmentVariable("DOTNET_ThreadPool_UnfairSemaphoreSpinLimit") ?? AppContext.GetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit")?.ToString() ?? "70 (runtime default)"})

        Bare ceiling, same run: {ceiling}.

        | phase | events | produced in (s) | all handled in (s) | events/s end to end | P50 (ms) | P99 (ms) | max (ms) | benchmark process CPU (µs/event) | MariaDB CPU (µs/event) | RabbitMQ CPU (µs/event) | all three (µs/event) |
        |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
        {string.Join(Environment.NewLine, rows)}

        """;
}

internal sealed record BenchEvent(int N) : IIntegrationEvent
{
    public static string EventType => "bench.happened";
}

// --handler execute (the default): the effect row is written at once, one round trip per event. --handler append: it is
// appended to EventContext.Writes, which the consumer sends once per transaction (one round trip per batch). Either way
// one effect row per event commits with its inbox row.
internal sealed class BenchHandler(BenchSettings settings) : IIntegrationEventHandler<BenchEvent>
{
    private static readonly SqlStatement InsertEffect = new("bench.effect", "INSERT INTO effects (n) VALUES (@n)");

    public Task HandleAsync(BenchEvent @event, EventContext context, CancellationToken cancellationToken)
    {
        if (settings.AppendWrites)
        {
            context.Writes.Insert("INSERT INTO effects (n) VALUES").Row(@event.N).End();
            return Task.CompletedTask;
        }

        return context.Connection.ExecuteAsync(InsertEffect, new { n = @event.N }, context.Transaction, cancellationToken);
    }
}

internal sealed record Phase(string Name, int Events, int Rate);

internal sealed record PhaseResult(Phase Phase, int Handled, TimeSpan ProducedIn, TimeSpan FinishedIn, double P50, double P99, double Max)
{
    public double CpuMicrosecondsPerEvent { get; init; }

    public string Split { get; init; } = "";

    public double MySqlCpuPerEvent { get; init; } = double.NaN;

    public double AmqpCpuPerEvent { get; init; } = double.NaN;

    public string Servers { get; init; } = "";

    public double Throughput => Handled / FinishedIn.TotalSeconds;

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Phase.Name}: {Handled}/{Phase.Events} handled, produced in {ProducedIn.TotalSeconds:F2} s, all handled in {FinishedIn.TotalSeconds:F2} s = {Throughput:F0} events/s (benchmark process CPU {CpuMicrosecondsPerEvent:F0} µs/event); P50 {P50:F1} ms, P99 {P99:F1} ms, max {Max:F1} ms{Split}{Environment.NewLine}    {Servers}");

    public string TableRow() => string.Create(CultureInfo.InvariantCulture,
        $"| {Phase.Name} | {Handled}/{Phase.Events} | {(Phase.Rate < 0 ? "before start" : ProducedIn.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture))} | {FinishedIn.TotalSeconds:F2} | {Throughput:F0} | {Ms(P50)} | {Ms(P99)} | {Ms(Max)} | {CpuMicrosecondsPerEvent:F0} | {MySqlCpuPerEvent:F0} | {AmqpCpuPerEvent:F0} | {CpuMicrosecondsPerEvent + MySqlCpuPerEvent + AmqpCpuPerEvent:F0} |");

    private static string Ms(double value) => double.IsNaN(value) || value == 0 ? "n/a" : value.ToString("F1", CultureInfo.InvariantCulture);
}

internal sealed record BenchSettings(IReadOnlyList<Phase> Phases, int Writers, int Concurrency, int Prefetch, int ConsumerBatch, int RelayBatch, int EventsPerMessage, int Warmup, int PerTransaction, int? FlushAtCommit, string? AppendTo, string[] Arguments)
{
    public bool AppendWrites => string.Equals(Value(Arguments, "--handler"), "append", StringComparison.OrdinalIgnoreCase);

    public bool GroupCommit => string.Equals(Value(Arguments, "--producer"), "group", StringComparison.OrdinalIgnoreCase);

    public int GroupSize => int.TryParse(Value(Arguments, "--group-size"), CultureInfo.InvariantCulture, out var n) ? n : new TransactionBatcherOptions().MaxBatchSize;

    public int GroupWriters => int.TryParse(Value(Arguments, "--group-writers"), CultureInfo.InvariantCulture, out var n) ? n : new TransactionBatcherOptions().Writers;

    public string Producers => GroupCommit
        ? $"{Writers} writers submitting one event each to a group commit (TransactionBatcher: up to {GroupSize} events per transaction, {GroupWriters} writer loops; state rows and outbox rows as one multi-statement command)"
        : PerTransaction == 1 ? $"{Writers} writers, one transaction per event (a state row and its outbox row)" : $"{Writers} writers, {PerTransaction} events per transaction (each a state row and its outbox row)";

    private static string? Value(string[] args, string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();

    public string LoadAverage { get; } = string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    public static BenchSettings Parse(string[] args)
    {
        string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        int Number(string name, int fallback) => int.TryParse(Value(name), CultureInfo.InvariantCulture, out var n) ? n : fallback;
        var events = Number("--events", 20_000);
        var rate = Number("--rate", 2_000);
        var seconds = Number("--seconds", 10);
        Phase[] phases =
        [
            new($"backlog drain ({events} rows committed before the relay and consumer start; no latency)", events, -1),
            new("saturation (as fast as the writers go)", events, 0),
            new($"fixed rate {rate}/s for {seconds} s", rate * seconds, rate),
        ];
        if (Value("--only") is { } only)
        {
            // backlog | saturation | fixed: one phase, for quick comparisons.
            phases = phases.Where(p => p.Name.StartsWith(only, StringComparison.OrdinalIgnoreCase)).ToArray();
        }

        int? flush = Value("--flush-at-commit") is { } f ? int.Parse(f, CultureInfo.InvariantCulture) : null;
        // The consumer runs 4 transactions of up to 128 events: the handler is short, so fewer and larger transactions cost
        // less per event (session 6: 4,567 events/s against 3,585 with 16 x 32; session 7, with bundles: P99 84 against 194 ms).
        return new BenchSettings(phases, Number("--writers", 16), Number("--concurrency", 4), Number("--prefetch", 256), Number("--batch", 128),
            Number("--relay-batch", new MessagingOptions().RelayBatchSize), Number("--bundle", new MessagingOptions().MaxEventsPerMessage), Number("--warmup", 5_000), Math.Max(1, Number("--per-transaction", 1)), flush, Value("--append"),
            args.Where((a, i) => a != "--append" && (i == 0 || args[i - 1] != "--append")).ToArray());
    }
}
