using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using SQLitePCL;

namespace Bazaar.Dashboard.Telemetry;

/// <summary>
/// Telemetry kept in one SQLite file in the data directory, so history survives an AppHost restart
/// (Aspire's dashboard keeps it in memory only). Every table is bounded: after each write the oldest
/// rows beyond the configured limit are dropped. Writes come from one writer (<see cref="TelemetryIngestor"/>);
/// reads open their own connections, which WAL mode lets run beside the writer.
/// </summary>
public sealed class TelemetryStore : IDisposable
{
    private readonly DashboardOptions _options;
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly Lock _writeLock = new();
    private readonly Dictionary<(string Resource, string Scope, string Name), long> _instrumentIds = [];
    private readonly PreparedInsert _spanInserter;
    private readonly PreparedInsert _logInserter;
    private readonly PreparedInsert _pointInserter;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TelemetryStore(IOptions<DashboardOptions> options)
    {
        _options = options.Value;
        var directory = _options.ResolveDataDirectory();
        Directory.CreateDirectory(directory);
        DatabasePath = Path.Combine(directory, "telemetry.db");
        _connectionString = new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = true }.ToString();
        _writer = new SqliteConnection(_connectionString);
        _writer.Open();
        Migrate(_writer);
        Execute(_writer, Schema);
        _spanInserter = new PreparedInsert(_writer, "spans", SpanColumns);
        _logInserter = new PreparedInsert(_writer, "logs", LogColumns);
        _pointInserter = new PreparedInsert(_writer, "metric_points", PointColumns);
    }

    public string DatabasePath { get; }

    /// <summary>
    /// Completes at the next write or clear: the pages wait on it to refresh when there is something new instead of
    /// querying on a timer. Take it before querying, so that a write during the query is not missed.
    /// </summary>
    public Task NextChange => Volatile.Read(ref _changed).Task;

    private void Changed() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    private const int SchemaVersion = 3;

    // Telemetry from an older layout is dropped rather than converted: it is history, not state.
    private static void Migrate(SqliteConnection connection)
    {
        using var version = connection.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        if (Convert.ToInt32(version.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == SchemaVersion) return;
        Execute(connection, $"DROP TABLE IF EXISTS spans; DROP TABLE IF EXISTS logs; DROP TABLE IF EXISTS metric_points; DROP TABLE IF EXISTS instruments; PRAGMA user_version = {SchemaVersion};");
    }

    private const string Schema = """
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = NORMAL;
        PRAGMA cache_size = -65536;
        PRAGMA wal_autocheckpoint = 10000;
        CREATE TABLE IF NOT EXISTS spans (
            id INTEGER PRIMARY KEY,
            trace_hi INTEGER NOT NULL, trace_lo INTEGER NOT NULL, span_id INTEGER NOT NULL, parent_span_id INTEGER NOT NULL,
            resource TEXT NOT NULL, instance TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL,
            kind INTEGER NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
            status INTEGER NOT NULL, status_message TEXT NOT NULL,
            attributes TEXT NOT NULL, events TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_spans_trace ON spans (trace_hi);
        CREATE TABLE IF NOT EXISTS logs (
            id INTEGER PRIMARY KEY,
            time_ns INTEGER NOT NULL, resource TEXT NOT NULL, instance TEXT NOT NULL, scope TEXT NOT NULL,
            severity INTEGER NOT NULL, severity_text TEXT NOT NULL, message TEXT NOT NULL,
            attributes TEXT NOT NULL, trace_hi INTEGER NOT NULL, trace_lo INTEGER NOT NULL, span_id INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_logs_trace ON logs (trace_hi);
        CREATE TABLE IF NOT EXISTS instruments (
            id INTEGER PRIMARY KEY,
            resource TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL,
            description TEXT NOT NULL, unit TEXT NOT NULL, kind INTEGER NOT NULL,
            UNIQUE (resource, scope, name));
        CREATE TABLE IF NOT EXISTS metric_points (
            id INTEGER PRIMARY KEY,
            instrument_id INTEGER NOT NULL, instance TEXT NOT NULL, time_ns INTEGER NOT NULL, attributes TEXT NOT NULL,
            value REAL NOT NULL, count INTEGER NOT NULL, sum REAL NOT NULL, bounds TEXT NOT NULL, buckets TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_points_instrument ON metric_points (instrument_id, time_ns);
        """;

    /// <summary>Writes several batches in one transaction, then trims every table to its limit.</summary>
    public void Write(IReadOnlyList<TelemetryBatch> batches)
    {
        lock (_writeLock)
        {
            using var transaction = _writer.BeginTransaction();
            Insert(transaction, batches);
            Trim(transaction);
            transaction.Commit();
        }
        Changed();
    }

    private void Insert(SqliteTransaction transaction, IReadOnlyList<TelemetryBatch> batches)
    {
        var spans = batches.Count == 1 ? batches[0].Spans : [.. batches.SelectMany(b => b.Spans)];
        if (spans.Count > 0)
        {
            // In trace-key order: neighbouring inserts land on neighbouring index pages.
            foreach (var span in spans.OrderBy(s => s.TraceId.High)) InsertSpan(span);
        }
        foreach (var batch in batches)
        {
            foreach (var log in batch.Logs) InsertLog(log);
            foreach (var point in batch.Points) InsertPoint(InstrumentId(transaction, point), point);
        }
    }

    private void Trim(SqliteTransaction transaction)
    {
        Trim(transaction, "spans", _options.MaxSpans);
        Trim(transaction, "logs", _options.MaxLogs);
        Trim(transaction, "metric_points", _options.MaxMetricPoints);
    }

    private static readonly string[] SpanColumns = ["trace_hi", "trace_lo", "span_id", "parent_span_id", "resource", "instance", "scope", "name", "kind", "start_ns", "end_ns", "status", "status_message", "attributes", "events"];
    private static readonly string[] LogColumns = ["time_ns", "resource", "instance", "scope", "severity", "severity_text", "message", "attributes", "trace_hi", "trace_lo", "span_id"];
    private static readonly string[] PointColumns = ["instrument_id", "instance", "time_ns", "attributes", "value", "count", "sum", "bounds", "buckets"];

    // Ids are stored as the signed reinterpretation of their unsigned halves: SQLite integers are signed 64-bit.
    private void InsertSpan(SpanData span)
    {
        var p = _spanInserter;
        p.Integer(0, (long)span.TraceId.High); p.Integer(1, (long)span.TraceId.Low); p.Integer(2, (long)span.SpanId.Value); p.Integer(3, (long)span.ParentSpanId.Value);
        p.Text(4, span.Resource); p.Text(5, span.Instance); p.Text(6, span.Scope); p.Text(7, span.Name);
        p.Integer(8, (int)span.Kind); p.Integer(9, span.StartNs); p.Integer(10, span.EndNs);
        p.Integer(11, (int)span.Status); p.Text(12, span.StatusMessage); p.Text(13, span.AttributesJson); p.Text(14, span.EventsJson);
        p.Execute();
    }

    private void InsertLog(LogData log)
    {
        var p = _logInserter;
        p.Integer(0, log.TimeNs); p.Text(1, log.Resource); p.Text(2, log.Instance); p.Text(3, log.Scope);
        p.Integer(4, log.Severity); p.Text(5, log.SeverityText); p.Text(6, log.Message); p.Text(7, log.AttributesJson);
        p.Integer(8, (long)log.TraceId.High); p.Integer(9, (long)log.TraceId.Low); p.Integer(10, (long)log.SpanId.Value);
        p.Execute();
    }

    private void InsertPoint(long instrumentId, MetricPointData point)
    {
        var p = _pointInserter;
        p.Integer(0, instrumentId); p.Text(1, point.Instance); p.Integer(2, point.TimeNs); p.Text(3, point.AttributesJson);
        p.Real(4, point.Value); p.Integer(5, point.Count); p.Real(6, point.Sum);
        p.Text(7, JsonSerializer.Serialize(point.Bounds)); p.Text(8, JsonSerializer.Serialize(point.BucketCounts));
        p.Execute();
    }

    /// <summary>
    /// An INSERT prepared once on the writer's connection and run through SQLite's own API: parameters bound by
    /// position, strings passed as UTF-16 spans without a copy. Microsoft.Data.Sqlite's command looks every
    /// parameter up by name and builds a data reader on each execution, which cost more than SQLite's insert itself.
    /// It runs inside the transaction the connection has open (the same database handle).
    /// </summary>
    private sealed class PreparedInsert : IDisposable
    {
        // An empty span has no address, and SQLite binds a null pointer as NULL: "" needs a real zero-length string.
        private static readonly byte[] EmptyText = [0];

        private readonly sqlite3 _database;
        private readonly sqlite3_stmt _statement;

        public PreparedInsert(SqliteConnection connection, string table, string[] columns)
        {
            _database = connection.Handle!;
            var sql = $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select(_ => "?"))})";
            Check(raw.sqlite3_prepare_v2(_database, sql, out _statement));
        }

        public void Integer(int column, long value) => Check(raw.sqlite3_bind_int64(_statement, column + 1, value));

        public void Real(int column, double value) => Check(raw.sqlite3_bind_double(_statement, column + 1, value));

        public void Text(int column, string value) => Check(value.Length == 0
            ? raw.sqlite3_bind_text(_statement, column + 1, utf8z.FromSpan(EmptyText))
            : raw.sqlite3_bind_text16(_statement, column + 1, value.AsSpan()));

        public void Execute()
        {
            var result = raw.sqlite3_step(_statement);
            raw.sqlite3_reset(_statement);
            if (result != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(result, _database);
        }

        private void Check(int result)
        {
            if (result != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(result, _database);
        }

        public void Dispose() => _statement.Dispose();
    }

    private long InstrumentId(SqliteTransaction transaction, MetricPointData point)
    {
        var key = (point.Resource, point.Scope, point.Name);
        if (_instrumentIds.TryGetValue(key, out var id)) return id;
        using var command = _writer.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO instruments (resource, scope, name, description, unit, kind) VALUES ($resource, $scope, $name, $description, $unit, $kind)
            ON CONFLICT (resource, scope, name) DO UPDATE SET description = excluded.description, unit = excluded.unit, kind = excluded.kind
            RETURNING id
            """;
        command.Parameters.AddWithValue("$resource", point.Resource);
        command.Parameters.AddWithValue("$scope", point.Scope);
        command.Parameters.AddWithValue("$name", point.Name);
        command.Parameters.AddWithValue("$description", point.Description);
        command.Parameters.AddWithValue("$unit", point.Unit);
        command.Parameters.AddWithValue("$kind", (int)point.Kind);
        id = (long)command.ExecuteScalar()!;
        _instrumentIds[key] = id;
        return id;
    }

    // Row ids only grow, so "the oldest beyond the limit" is every id at or below max(id) - limit: one indexed range delete.
    private void Trim(SqliteTransaction transaction, string table, int limit)
    {
        using var command = _writer.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"DELETE FROM {table} WHERE id <= (SELECT MAX(id) FROM {table}) - $limit";
        command.Parameters.AddWithValue("$limit", limit);
        command.ExecuteNonQuery();
    }

    public void Clear()
    {
        lock (_writeLock)
        {
            Execute(_writer, "DELETE FROM spans; DELETE FROM logs; DELETE FROM metric_points; DELETE FROM instruments;");
            _instrumentIds.Clear();
        }
        Changed();
    }

    public async Task<TelemetryCounts> GetCountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT COUNT(*) FROM spans), (SELECT COUNT(*) FROM logs), (SELECT COUNT(*) FROM metric_points)";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new TelemetryCounts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    /// <summary>The services that sent any telemetry, for filter lists.</summary>
    public async Task<IReadOnlyList<string>> GetResourcesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT resource FROM (SELECT DISTINCT resource FROM spans UNION SELECT DISTINCT resource FROM logs UNION SELECT DISTINCT resource FROM instruments)
            ORDER BY resource
            """;
        var resources = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) resources.Add(reader.GetString(0));
        return resources;
    }

    public async Task<IReadOnlyList<TraceSummary>> GetTracesAsync(TraceQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT trace_hi, MIN(start_ns) AS started, MAX(end_ns) AS ended, COUNT(*), SUM(status = 2) AS errors,
                   GROUP_CONCAT(DISTINCT resource),
                   MAX(CASE WHEN parent_span_id = 0 THEN name END),
                   MAX(CASE WHEN parent_span_id = 0 THEN resource END),
                   MIN(name), MIN(resource), trace_lo
            FROM spans
            GROUP BY trace_hi, trace_lo
            HAVING (ended - started) >= $minNs
               AND ($errorsOnly = 0 OR errors > 0)
               AND ($resource IS NULL OR SUM(resource = $resource) > 0)
            ORDER BY started DESC
            LIMIT $limit
            """;
        command.Parameters.AddWithValue("$minNs", (long)(query.MinDurationMs * 1_000_000));
        command.Parameters.AddWithValue("$errorsOnly", query.ErrorsOnly ? 1 : 0);
        command.Parameters.AddWithValue("$resource", (object?)NullIfEmpty(query.Resource) ?? DBNull.Value);
        command.Parameters.AddWithValue("$limit", query.Limit);
        var traces = new List<TraceSummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var started = reader.GetInt64(1);
            traces.Add(new TraceSummary(
                new TraceId((ulong)reader.GetInt64(0), (ulong)reader.GetInt64(10)).ToString(),
                reader.IsDBNull(6) ? reader.GetString(8) : reader.GetString(6),
                reader.IsDBNull(7) ? reader.GetString(9) : reader.GetString(7),
                [.. reader.GetString(5).Split(',').Order(StringComparer.Ordinal)],
                reader.GetInt32(3),
                reader.GetInt32(4),
                FromNanos(started),
                (reader.GetInt64(2) - started) / 1e6));
        }
        return traces;
    }

    public async Task<TraceDetail?> GetTraceAsync(string traceId, CancellationToken cancellationToken)
    {
        if (!TraceId.TryParse(traceId, out var id) || id.IsNone) return null;
        traceId = id.ToString();
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT span_id, parent_span_id, resource, instance, scope, name, kind, start_ns, end_ns, status, status_message, attributes, events
            FROM spans WHERE trace_hi = $high AND trace_lo = $low ORDER BY start_ns, id
            """;
        command.Parameters.AddWithValue("$high", (long)id.High);
        command.Parameters.AddWithValue("$low", (long)id.Low);
        var rows = new List<(string SpanId, string Parent, string Resource, string Instance, string Scope, string Name, int Kind, long Start, long End, int Status, string Message, string Attributes, string Events)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add((Span(reader, 0), Span(reader, 1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
                    reader.GetInt32(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetInt32(9), reader.GetString(10), reader.GetString(11), reader.GetString(12)));
            }
        }
        if (rows.Count == 0) return null;

        var start = rows.Min(r => r.Start);
        var end = rows.Max(r => r.End);
        var spans = rows.Select(r => new SpanView(
            r.SpanId, r.Parent, r.Resource, r.Instance, r.Scope, r.Name, (SpanKind)r.Kind, FromNanos(r.Start),
            (r.Start - start) / 1e6, (r.End - r.Start) / 1e6, (SpanStatus)r.Status, r.Message,
            ParseJson(r.Attributes), ParseEvents(r.Events))).ToList();
        var logs = await GetLogsAsync(connection, new LogQuery(TraceId: traceId, Limit: 1000), cancellationToken);
        return new TraceDetail(
            traceId, FromNanos(start), (end - start) / 1e6,
            [.. rows.Select(r => r.Resource).Distinct().Order(StringComparer.Ordinal)],
            OrderAsTree(spans),
            [.. logs.OrderBy(l => l.Time)]);
    }

    // Depth-first from the roots, children by start time: the order a waterfall is read in.
    private static List<SpanView> OrderAsTree(List<SpanView> spans)
    {
        var ids = spans.Select(s => s.SpanId).ToHashSet();
        var children = spans.Where(s => ids.Contains(s.ParentSpanId)).ToLookup(s => s.ParentSpanId);
        var ordered = new List<SpanView>(spans.Count);
        void Visit(SpanView span)
        {
            ordered.Add(span);
            foreach (var child in children[span.SpanId]) Visit(child);
        }
        foreach (var root in spans.Where(s => !ids.Contains(s.ParentSpanId))) Visit(root);
        return ordered;
    }

    public async Task<IReadOnlyList<LogView>> GetLogsAsync(LogQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await GetLogsAsync(connection, query, cancellationToken);
    }

    private static async Task<IReadOnlyList<LogView>> GetLogsAsync(SqliteConnection connection, LogQuery query, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, time_ns, resource, instance, scope, severity, severity_text, message, attributes, trace_hi, trace_lo, span_id
            FROM logs
            WHERE ($resource IS NULL OR resource = $resource)
              AND severity >= $minSeverity
              AND ($high IS NULL OR (trace_hi = $high AND trace_lo = $low))
              AND ($text IS NULL OR instr(lower(message), $text) > 0 OR instr(lower(attributes), $text) > 0)
            ORDER BY id DESC
            LIMIT $limit
            """;
        command.Parameters.AddWithValue("$resource", (object?)NullIfEmpty(query.Resource) ?? DBNull.Value);
        command.Parameters.AddWithValue("$minSeverity", query.MinSeverity);
        TraceId? trace = null;
        if (NullIfEmpty(query.TraceId) is { } traceText)
        {
            // Text that is not a trace id matches nothing (all zeros marks the logs outside any trace).
            if (!TraceId.TryParse(traceText, out var parsed) || parsed.IsNone) return [];
            trace = parsed;
        }
        command.Parameters.AddWithValue("$high", trace is { } t ? (long)t.High : DBNull.Value);
        command.Parameters.AddWithValue("$low", trace is { } u ? (long)u.Low : DBNull.Value);
        command.Parameters.AddWithValue("$text", (object?)NullIfEmpty(query.Text)?.ToLowerInvariant() ?? DBNull.Value);
        command.Parameters.AddWithValue("$limit", query.Limit);
        var logs = new List<LogView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var severity = reader.GetInt32(5);
            var text = reader.GetString(6);
            logs.Add(new LogView(
                reader.GetInt64(0), FromNanos(reader.GetInt64(1)), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                severity, string.IsNullOrEmpty(text) ? Severity.Name(severity) : text, reader.GetString(7),
                ParseJson(reader.GetString(8)), new TraceId((ulong)reader.GetInt64(9), (ulong)reader.GetInt64(10)).ToString(), Span(reader, 11)));
        }
        return logs;
    }

    public async Task<IReadOnlyList<InstrumentView>> GetInstrumentsAsync(string? resource, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, resource, scope, name, description, unit, kind FROM instruments
            WHERE ($resource IS NULL OR resource = $resource)
            ORDER BY resource, scope, name
            """;
        command.Parameters.AddWithValue("$resource", (object?)NullIfEmpty(resource) ?? DBNull.Value);
        var instruments = new List<InstrumentView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) instruments.Add(ReadInstrument(reader));
        return instruments;
    }

    private static InstrumentView ReadInstrument(SqliteDataReader reader) => new(
        reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
        (InstrumentKind)reader.GetInt32(6));

    /// <summary>The chart of one instrument since a moment; null when the instrument is unknown.</summary>
    public async Task<MetricSeries?> GetSeriesAsync(string resource, string meter, string name, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        InstrumentView? instrument;
        await using (var find = connection.CreateCommand())
        {
            find.CommandText = "SELECT id, resource, scope, name, description, unit, kind FROM instruments WHERE resource = $resource AND scope = $scope AND name = $name";
            find.Parameters.AddWithValue("$resource", resource);
            find.Parameters.AddWithValue("$scope", meter);
            find.Parameters.AddWithValue("$name", name);
            await using var reader = await find.ExecuteReaderAsync(cancellationToken);
            instrument = await reader.ReadAsync(cancellationToken) ? ReadInstrument(reader) : null;
        }
        if (instrument is null) return null;

        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT instance, time_ns, value, count, bounds, buckets FROM metric_points
            WHERE instrument_id = $id AND time_ns >= $since ORDER BY instance, time_ns, id
            """;
        command.Parameters.AddWithValue("$id", instrument.Id);
        command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds() * 1_000_000);
        var exports = new List<(string Instance, MetricExport Export)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var instance = reader.GetString(0);
                var time = reader.GetInt64(1);
                if (exports.Count == 0 || exports[^1].Instance != instance || exports[^1].Export.TimeNs != time) exports.Add((instance, new MetricExport(time)));
                var export = exports[^1].Export;
                export.Value += reader.GetDouble(2);
                if (instrument.Kind == InstrumentKind.Histogram)
                {
                    export.Add(JsonSerializer.Deserialize<double[]>(reader.GetString(4)) ?? [], JsonSerializer.Deserialize<long[]>(reader.GetString(5)) ?? []);
                }
            }
        }
        return new MetricSeries(instrument, [.. exports.GroupBy(e => e.Instance).Select(g => new InstanceSeries(
            g.Key,
            instrument.Kind == InstrumentKind.Histogram
                ? HistogramMath.Percentiles([.. g.Select(e => e.Export)])
                : [.. g.Select(e => new SeriesPoint(FromNanos(e.Export.TimeNs), e.Export.Value))]))]);
    }

    /// <summary>Latest exported value per process and attribute set of every instrument with this name, across resources.</summary>
    public async Task<IReadOnlyList<DimensionValue>> GetLatestValuesAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT i.resource, p.instance, p.attributes, p.value, p.count
            FROM (SELECT MAX(id) AS id FROM metric_points
                  WHERE instrument_id IN (SELECT id FROM instruments WHERE name = $name)
                  GROUP BY instrument_id, instance, attributes) latest
            JOIN metric_points p ON p.id = latest.id
            JOIN instruments i ON i.id = p.instrument_id
            """;
        command.Parameters.AddWithValue("$name", name);
        var values = new List<DimensionValue>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(new DimensionValue(reader.GetString(0), reader.GetString(1), ParseJson(reader.GetString(2)), reader.GetDouble(3) + reader.GetInt64(4)));
        }
        return values;
    }

    /// <summary>Names of instruments that start with a prefix, for figures whose exact instrument name a service chooses.</summary>
    public async Task<IReadOnlyList<string>> GetInstrumentNamesAsync(string prefix, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT name FROM instruments WHERE substr(name, 1, length($prefix)) = $prefix ORDER BY name";
        command.Parameters.AddWithValue("$prefix", prefix);
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) names.Add(reader.GetString(0));
        return names;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string Span(SqliteDataReader reader, int column) => new SpanId((ulong)reader.GetInt64(column)).ToString();

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    internal static DateTimeOffset FromNanos(long nanos) => DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks(nanos / 100);

    private static JsonElement ParseJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    private static IReadOnlyList<SpanEventView> ParseEvents(string json)
    {
        if (json == "[]") return [];
        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.EnumerateArray().Select(e => new SpanEventView(
            e.GetProperty("name").GetString() ?? "",
            FromNanos(e.GetProperty("timeNs").GetInt64()),
            e.GetProperty("attributes").Clone()))];
    }

    public void Dispose()
    {
        lock (_writeLock)
        {
            _spanInserter.Dispose();
            _logInserter.Dispose();
            _pointInserter.Dispose();
            _writer.Dispose();
        }
        SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
    }
}
