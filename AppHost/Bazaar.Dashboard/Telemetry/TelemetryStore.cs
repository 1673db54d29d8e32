using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

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
    private readonly RowInserter<SpanData> _spanInserter;
    private readonly RowInserter<LogData> _logInserter;
    private readonly RowInserter<(long InstrumentId, MetricPointData Point)> _pointInserter;

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
        _spanInserter = SpanInserter(_writer);
        _logInserter = LogInserter(_writer);
        _pointInserter = PointInserter(_writer);
    }

    public string DatabasePath { get; }

    private const int SchemaVersion = 2;

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
            trace_key INTEGER NOT NULL,
            trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT NOT NULL,
            resource TEXT NOT NULL, instance TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL,
            kind INTEGER NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
            status INTEGER NOT NULL, status_message TEXT NOT NULL,
            attributes TEXT NOT NULL, events TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_spans_trace ON spans (trace_key);
        CREATE TABLE IF NOT EXISTS logs (
            id INTEGER PRIMARY KEY,
            time_ns INTEGER NOT NULL, resource TEXT NOT NULL, instance TEXT NOT NULL, scope TEXT NOT NULL,
            severity INTEGER NOT NULL, severity_text TEXT NOT NULL, message TEXT NOT NULL,
            attributes TEXT NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_logs_trace ON logs (trace_id);
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
    }

    /// <summary>
    /// Writes several batches in one transaction without trimming: the ingest loop trims on its own schedule
    /// (<see cref="Trim()"/>), so a busy receiver does not pay for three range deletes per transaction.
    /// </summary>
    internal void Insert(IReadOnlyList<TelemetryBatch> batches)
    {
        lock (_writeLock)
        {
            using var transaction = _writer.BeginTransaction();
            Insert(transaction, batches);
            transaction.Commit();
        }
    }

    /// <summary>Drops the oldest rows of every table beyond its configured limit.</summary>
    internal void Trim()
    {
        lock (_writeLock)
        {
            using var transaction = _writer.BeginTransaction();
            Trim(transaction);
            transaction.Commit();
        }
    }

    private void Insert(SqliteTransaction transaction, IReadOnlyList<TelemetryBatch> batches)
    {
        var spans = batches.Count == 1 ? batches[0].Spans : [.. batches.SelectMany(b => b.Spans)];
        if (spans.Count > 0)
        {
            // In trace-key order: neighbouring inserts land on neighbouring index pages.
            _spanInserter.Insert(transaction, [.. spans.OrderBy(s => TraceKey(s.TraceId))]);
        }
        var logs = batches.Count == 1 ? batches[0].Logs : [.. batches.SelectMany(b => b.Logs)];
        if (logs.Count > 0) _logInserter.Insert(transaction, logs);
        var points = batches.Count == 1 ? batches[0].Points : [.. batches.SelectMany(b => b.Points)];
        if (points.Count > 0)
        {
            _pointInserter.Insert(transaction, [.. points.Select(point => (InstrumentId(transaction, point), point))]);
        }
    }

    private void Trim(SqliteTransaction transaction)
    {
        Trim(transaction, "spans", _options.MaxSpans);
        Trim(transaction, "logs", _options.MaxLogs);
        Trim(transaction, "metric_points", _options.MaxMetricPoints);
    }

    private static RowInserter<SpanData> SpanInserter(SqliteConnection connection) => new(
        connection,
        "spans",
        ["trace_key", "trace_id", "span_id", "parent_span_id", "resource", "instance", "scope", "name", "kind", "start_ns", "end_ns", "status", "status_message", "attributes", "events"],
        static (p, span) =>
        {
            p[0].Value = TraceKey(span.TraceId); p[1].Value = span.TraceId; p[2].Value = span.SpanId; p[3].Value = span.ParentSpanId;
            p[4].Value = span.Resource; p[5].Value = span.Instance; p[6].Value = span.Scope; p[7].Value = span.Name;
            p[8].Value = (int)span.Kind; p[9].Value = span.StartNs; p[10].Value = span.EndNs;
            p[11].Value = (int)span.Status; p[12].Value = span.StatusMessage; p[13].Value = span.AttributesJson; p[14].Value = span.EventsJson;
        });

    private static RowInserter<LogData> LogInserter(SqliteConnection connection) => new(
        connection,
        "logs",
        ["time_ns", "resource", "instance", "scope", "severity", "severity_text", "message", "attributes", "trace_id", "span_id"],
        static (p, log) =>
        {
            p[0].Value = log.TimeNs; p[1].Value = log.Resource; p[2].Value = log.Instance; p[3].Value = log.Scope;
            p[4].Value = log.Severity; p[5].Value = log.SeverityText; p[6].Value = log.Message; p[7].Value = log.AttributesJson;
            p[8].Value = log.TraceId; p[9].Value = log.SpanId;
        });

    private static RowInserter<(long InstrumentId, MetricPointData Point)> PointInserter(SqliteConnection connection) => new(
        connection,
        "metric_points",
        ["instrument_id", "instance", "time_ns", "attributes", "value", "count", "sum", "bounds", "buckets"],
        static (p, row) =>
        {
            var point = row.Point;
            p[0].Value = row.InstrumentId; p[1].Value = point.Instance; p[2].Value = point.TimeNs; p[3].Value = point.AttributesJson;
            p[4].Value = point.Value; p[5].Value = point.Count; p[6].Value = point.Sum;
            p[7].Value = JsonSerializer.Serialize(point.Bounds); p[8].Value = JsonSerializer.Serialize(point.BucketCounts);
        });

    /// <summary>
    /// A prepared INSERT kept for the store's lifetime and executed once per row. (Multi-row VALUES lists were
    /// measured slower: Microsoft.Data.Sqlite binds every parameter by name, a linear search per parameter.)
    /// </summary>
    private sealed class RowInserter<T>(SqliteConnection connection, string table, string[] columns, Action<SqliteParameter[], T> bind) : IDisposable
    {
        private SqliteCommand? _command;
        private SqliteParameter[] _parameters = [];

        public void Insert(SqliteTransaction transaction, IReadOnlyList<T> rows)
        {
            if (_command is null)
            {
                _command = connection.CreateCommand();
                _command.CommandText = $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select(c => "$" + c))})";
                _parameters = [.. columns.Select(c => _command.Parameters.Add(new SqliteParameter { ParameterName = "$" + c }))];
            }
            _command.Transaction = transaction;
            foreach (var row in rows)
            {
                bind(_parameters, row);
                _command.ExecuteNonQuery();
            }
        }

        public void Dispose() => _command?.Dispose();
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

    // The index is on the trace id's first 64 bits, not its 32-character text: an integer index keeps random
    // inserts (trace ids are random) about twice as fast, which is most of the ingest rate. Lookups also compare the text.
    internal static long TraceKey(string traceId) =>
        traceId.Length >= 16 && ulong.TryParse(traceId.AsSpan(0, 16), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var key) ? (long)key : 0;

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
            SELECT trace_id, MIN(start_ns) AS started, MAX(end_ns) AS ended, COUNT(*), SUM(status = 2) AS errors,
                   GROUP_CONCAT(DISTINCT resource),
                   MAX(CASE WHEN parent_span_id = '' THEN name END),
                   MAX(CASE WHEN parent_span_id = '' THEN resource END),
                   MIN(name), MIN(resource)
            FROM spans
            GROUP BY trace_id
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
                reader.GetString(0),
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
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT span_id, parent_span_id, resource, instance, scope, name, kind, start_ns, end_ns, status, status_message, attributes, events
            FROM spans WHERE trace_key = $traceKey AND trace_id = $trace ORDER BY start_ns, id
            """;
        command.Parameters.AddWithValue("$traceKey", TraceKey(traceId));
        command.Parameters.AddWithValue("$trace", traceId);
        var rows = new List<(string SpanId, string Parent, string Resource, string Instance, string Scope, string Name, int Kind, long Start, long End, int Status, string Message, string Attributes, string Events)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
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
            SELECT id, time_ns, resource, instance, scope, severity, severity_text, message, attributes, trace_id, span_id
            FROM logs
            WHERE ($resource IS NULL OR resource = $resource)
              AND severity >= $minSeverity
              AND ($trace IS NULL OR trace_id = $trace)
              AND ($text IS NULL OR instr(lower(message), $text) > 0 OR instr(lower(attributes), $text) > 0)
            ORDER BY id DESC
            LIMIT $limit
            """;
        command.Parameters.AddWithValue("$resource", (object?)NullIfEmpty(query.Resource) ?? DBNull.Value);
        command.Parameters.AddWithValue("$minSeverity", query.MinSeverity);
        command.Parameters.AddWithValue("$trace", (object?)NullIfEmpty(query.TraceId) ?? DBNull.Value);
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
                ParseJson(reader.GetString(8)), reader.GetString(9), reader.GetString(10)));
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
