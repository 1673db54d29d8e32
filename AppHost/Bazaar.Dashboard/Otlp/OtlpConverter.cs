using System.Buffers;
using System.Text;
using System.Text.Json;
using Bazaar.Dashboard.Otlp.Proto;
using Bazaar.Dashboard.Telemetry;
using Google.Protobuf;
using Google.Protobuf.Collections;

namespace Bazaar.Dashboard.Otlp;

/// <summary>Turns decoded OTLP requests into the rows the store keeps.</summary>
internal sealed class OtlpConverter
{
    private const string UnknownService = "unknown_service";

    // One converter per request: the JSON buffer is reused for every attribute set of that request.
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _json;

    public OtlpConverter() => _json = new Utf8JsonWriter(_buffer);

    public IReadOnlyList<SpanData> Convert(ExportTraceServiceRequest request)
    {
        var spans = new List<SpanData>();
        foreach (var resourceSpans in request.ResourceSpans)
        {
            var (service, instance) = Identify(resourceSpans.Resource);
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                var scope = scopeSpans.Scope?.Name ?? "";
                foreach (var span in scopeSpans.Spans)
                {
                    spans.Add(new SpanData(
                        TraceId.FromBytes(span.TraceId.Span),
                        SpanId.FromBytes(span.SpanId.Span),
                        SpanId.FromBytes(span.ParentSpanId.Span),
                        service,
                        instance,
                        scope,
                        span.Name,
                        (Telemetry.SpanKind)(int)span.Kind,
                        ToNanos(span.StartTimeUnixNano),
                        ToNanos(span.EndTimeUnixNano),
                        span.Status is null ? SpanStatus.Unset : (SpanStatus)(int)span.Status.Code,
                        span.Status?.Message ?? "",
                        AttributesJson(span.Attributes),
                        EventsJson(span.Events)));
                }
            }
        }
        return spans;
    }

    public IReadOnlyList<LogData> Convert(ExportLogsServiceRequest request)
    {
        var logs = new List<LogData>();
        foreach (var resourceLogs in request.ResourceLogs)
        {
            var (service, instance) = Identify(resourceLogs.Resource);
            foreach (var scopeLogs in resourceLogs.ScopeLogs)
            {
                var scope = scopeLogs.Scope?.Name ?? "";
                foreach (var record in scopeLogs.LogRecords)
                {
                    var time = record.TimeUnixNano != 0 ? record.TimeUnixNano : record.ObservedTimeUnixNano;
                    logs.Add(new LogData(
                        ToNanos(time),
                        service,
                        instance,
                        scope,
                        (int)record.SeverityNumber,
                        record.SeverityText,
                        BodyText(record.Body),
                        AttributesJson(record.Attributes),
                        TraceId.FromBytes(record.TraceId.Span),
                        SpanId.FromBytes(record.SpanId.Span)));
                }
            }
        }
        return logs;
    }

    public IReadOnlyList<MetricPointData> Convert(ExportMetricsServiceRequest request)
    {
        var points = new List<MetricPointData>();
        foreach (var resourceMetrics in request.ResourceMetrics)
        {
            var (service, instance) = Identify(resourceMetrics.Resource);
            foreach (var scopeMetrics in resourceMetrics.ScopeMetrics)
            {
                var meter = scopeMetrics.Scope?.Name ?? "";
                foreach (var metric in scopeMetrics.Metrics)
                {
                    switch (metric.DataCase)
                    {
                        case Metric.DataOneofCase.Gauge:
                            AddNumbers(points, service, instance, meter, metric, InstrumentKind.Gauge, false, metric.Gauge.DataPoints);
                            break;
                        case Metric.DataOneofCase.Sum:
                            AddNumbers(points, service, instance, meter, metric, InstrumentKind.Sum, metric.Sum.IsMonotonic, metric.Sum.DataPoints);
                            break;
                        case Metric.DataOneofCase.Histogram:
                            foreach (var point in metric.Histogram.DataPoints)
                            {
                                points.Add(new MetricPointData(
                                    service, instance, meter, metric.Name, metric.Description, metric.Unit, InstrumentKind.Histogram, false,
                                    ToNanos(point.TimeUnixNano), AttributesJson(point.Attributes),
                                    Value: 0, Count: (long)point.Count, Sum: point.HasSum ? point.Sum : 0,
                                    Bounds: [.. point.ExplicitBounds], BucketCounts: [.. point.BucketCounts.Select(c => (long)c)]));
                            }
                            break;
                    }
                }
            }
        }
        return points;
    }

    private void AddNumbers(
        List<MetricPointData> points, string service, string instance, string meter, Metric metric, InstrumentKind kind, bool monotonic,
        RepeatedField<NumberDataPoint> dataPoints)
    {
        foreach (var point in dataPoints)
        {
            var value = point.ValueCase == NumberDataPoint.ValueOneofCase.AsInt ? point.AsInt : point.AsDouble;
            points.Add(new MetricPointData(
                service, instance, meter, metric.Name, metric.Description, metric.Unit, kind, monotonic,
                ToNanos(point.TimeUnixNano), AttributesJson(point.Attributes),
                Value: value, Count: 0, Sum: 0, Bounds: [], BucketCounts: []));
        }
    }

    private static (string Service, string Instance) Identify(Resource? resource)
    {
        string? service = null, instance = null;
        if (resource is not null)
        {
            foreach (var attribute in resource.Attributes)
            {
                if (attribute.Key == "service.name") service = attribute.Value?.StringValue;
                else if (attribute.Key == "service.instance.id") instance = attribute.Value?.StringValue;
            }
        }
        service = string.IsNullOrEmpty(service) ? UnknownService : service;
        return (service, string.IsNullOrEmpty(instance) ? service : instance);
    }

    // Out-of-range times (a sender's bug) must not overflow into negative nanoseconds.
    private static long ToNanos(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;

    private static string BodyText(AnyValue? body) => body?.ValueCase switch
    {
        null or AnyValue.ValueOneofCase.None => "",
        AnyValue.ValueOneofCase.StringValue => body.StringValue,
        _ => body.ToString(),
    };

    private string AttributesJson(RepeatedField<KeyValue> attributes)
    {
        if (attributes.Count == 0) return "{}";
        _buffer.ResetWrittenCount();
        _json.Reset();
        WriteAttributes(attributes);
        _json.Flush();
        return Encoding.UTF8.GetString(_buffer.WrittenSpan);
    }

    private string EventsJson(RepeatedField<Proto.Span.Types.Event> events)
    {
        if (events.Count == 0) return "[]";
        _buffer.ResetWrittenCount();
        _json.Reset();
        _json.WriteStartArray();
        foreach (var spanEvent in events)
        {
            _json.WriteStartObject();
            _json.WriteString("name", spanEvent.Name);
            _json.WriteNumber("timeNs", ToNanos(spanEvent.TimeUnixNano));
            _json.WritePropertyName("attributes");
            WriteAttributes(spanEvent.Attributes);
            _json.WriteEndObject();
        }
        _json.WriteEndArray();
        _json.Flush();
        return Encoding.UTF8.GetString(_buffer.WrittenSpan);
    }

    private void WriteAttributes(RepeatedField<KeyValue> attributes)
    {
        _json.WriteStartObject();
        foreach (var attribute in attributes)
        {
            _json.WritePropertyName(attribute.Key);
            WriteValue(attribute.Value);
        }
        _json.WriteEndObject();
    }

    private void WriteValue(AnyValue? value)
    {
        switch (value?.ValueCase)
        {
            case AnyValue.ValueOneofCase.StringValue: _json.WriteStringValue(value.StringValue); break;
            case AnyValue.ValueOneofCase.BoolValue: _json.WriteBooleanValue(value.BoolValue); break;
            case AnyValue.ValueOneofCase.IntValue: _json.WriteNumberValue(value.IntValue); break;
            case AnyValue.ValueOneofCase.DoubleValue:
                // JSON has no NaN or infinity; keep them readable instead of failing the whole request.
                if (double.IsFinite(value.DoubleValue)) _json.WriteNumberValue(value.DoubleValue);
                else _json.WriteStringValue(value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            case AnyValue.ValueOneofCase.BytesValue: _json.WriteBase64StringValue(value.BytesValue.Span); break;
            case AnyValue.ValueOneofCase.ArrayValue:
                _json.WriteStartArray();
                foreach (var item in value.ArrayValue.Values) WriteValue(item);
                _json.WriteEndArray();
                break;
            case AnyValue.ValueOneofCase.KvlistValue: WriteAttributes(value.KvlistValue.Values); break;
            default: _json.WriteNullValue(); break;
        }
    }
}
