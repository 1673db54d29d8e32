using System.Buffers;
using System.Text;
using System.Text.Json;
using Bazaar.Dashboard.Telemetry;

namespace Bazaar.Dashboard.Otlp;

/// <summary>
/// Reads an ExportTraceServiceRequest straight into the rows the store keeps, over the wire format: no protobuf
/// object tree, ids taken as integers from their bytes, attribute keys and values copied from the body's UTF-8 into
/// the JSON without passing through .NET strings. It keeps what <see cref="OtlpConverter"/> keeps from the generated
/// classes, with the same results (a test compares the two on every field), at about a third of the CPU: the
/// receiver shares its cores with the services it records.
/// Field numbers are OTLP's (opentelemetry/proto/trace/v1/trace.proto, common/v1/common.proto).
/// </summary>
internal sealed class OtlpTraceReader
{
    private const string UnknownService = "unknown_service";
    private const int MaxValueDepth = 64;

    private readonly ArrayBufferWriter<byte> _attributesBuffer = new(1024);
    private readonly ArrayBufferWriter<byte> _eventsBuffer = new(1024);
    private readonly Utf8JsonWriter _attributes;
    private readonly Utf8JsonWriter _events;

    public OtlpTraceReader()
    {
        _attributes = new Utf8JsonWriter(_attributesBuffer);
        _events = new Utf8JsonWriter(_eventsBuffer);
    }

    /// <summary>The spans of one request; throws <see cref="MalformedOtlpException"/> for a body that is not one.</summary>
    public List<SpanData> Read(ReadOnlySpan<byte> body)
    {
        var spans = new List<SpanData>();
        try
        {
            var request = new WireReader(body);
            while (request.Next(out var field, out var type))
            {
                if (field == 1 && type == WireReader.LengthDelimitedType) ReadResourceSpans(request.LengthDelimited(), spans);
                else request.Skip(field, type);
            }
        }
        catch (ArgumentException exception)
        {
            // Utf8JsonWriter refuses what JSON cannot hold; the request is refused rather than stored in part.
            throw new MalformedOtlpException("An attribute cannot be kept as JSON: " + exception.Message, exception);
        }
        return spans;
    }

    private void ReadResourceSpans(ReadOnlySpan<byte> message, List<SpanData> spans)
    {
        // The resource names the service of every span beside it, wherever it stands in the message.
        string? service = null, instance = null;
        var fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            if (field == 1 && type == WireReader.LengthDelimitedType) ReadResource(fields.LengthDelimited(), ref service, ref instance);
            else fields.Skip(field, type);
        }
        service = string.IsNullOrEmpty(service) ? UnknownService : service;
        instance = string.IsNullOrEmpty(instance) ? service : instance;

        fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            if (field == 2 && type == WireReader.LengthDelimitedType) ReadScopeSpans(fields.LengthDelimited(), service, instance, spans);
            else fields.Skip(field, type);
        }
    }

    // Resource: repeated KeyValue attributes = 1. The last service.name and service.instance.id win; a value that is
    // not a string counts as empty.
    private static void ReadResource(ReadOnlySpan<byte> message, ref string? service, ref string? instance)
    {
        var fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            if (field != 1 || type != WireReader.LengthDelimitedType)
            {
                fields.Skip(field, type);
                continue;
            }
            var hasValue = KeyValue(fields.LengthDelimited(), out var key, out var value);
            if (key.SequenceEqual("service.name"u8)) service = hasValue ? StringValue(value) : null;
            else if (key.SequenceEqual("service.instance.id"u8)) instance = hasValue ? StringValue(value) : null;
        }
    }

    private void ReadScopeSpans(ReadOnlySpan<byte> message, string service, string instance, List<SpanData> spans)
    {
        var scope = "";
        var fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            if (field == 1 && type == WireReader.LengthDelimitedType) scope = ScopeName(fields.LengthDelimited());
            else fields.Skip(field, type);
        }

        fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            if (field == 2 && type == WireReader.LengthDelimitedType) spans.Add(ReadSpan(fields.LengthDelimited(), service, instance, scope));
            else fields.Skip(field, type);
        }
    }

    // InstrumentationScope: string name = 1.
    private static string ScopeName(ReadOnlySpan<byte> message)
    {
        var name = "";
        var fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            if (field == 1 && type == WireReader.LengthDelimitedType) name = Text(fields.LengthDelimited());
            else fields.Skip(field, type);
        }
        return name;
    }

    private SpanData ReadSpan(ReadOnlySpan<byte> message, string service, string instance, string scope)
    {
        TraceId traceId = default;
        SpanId spanId = default, parent = default;
        var name = "";
        var kind = 0;
        ulong start = 0, end = 0;
        var hasStatus = false;
        var statusCode = 0;
        var statusMessage = "";
        var attributeCount = 0;
        var eventCount = 0;
        _attributesBuffer.ResetWrittenCount();
        _attributes.Reset();
        _attributes.WriteStartObject();
        _eventsBuffer.ResetWrittenCount();
        _events.Reset();
        _events.WriteStartArray();

        var fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            switch ((field, type))
            {
                case (1, WireReader.LengthDelimitedType): traceId = TraceId.FromBytes(fields.LengthDelimited()); break;
                case (2, WireReader.LengthDelimitedType): spanId = SpanId.FromBytes(fields.LengthDelimited()); break;
                case (4, WireReader.LengthDelimitedType): parent = SpanId.FromBytes(fields.LengthDelimited()); break;
                case (5, WireReader.LengthDelimitedType): name = Text(fields.LengthDelimited()); break;
                case (6, WireReader.VarintType): kind = (int)fields.Varint(); break;
                case (7, WireReader.Fixed64Type): start = fields.Fixed64(); break;
                case (8, WireReader.Fixed64Type): end = fields.Fixed64(); break;
                case (9, WireReader.LengthDelimitedType):
                    WriteAttribute(_attributes, fields.LengthDelimited());
                    attributeCount++;
                    break;
                case (11, WireReader.LengthDelimitedType):
                    WriteEvent(fields.LengthDelimited());
                    eventCount++;
                    break;
                case (15, WireReader.LengthDelimitedType):
                    // A message field seen twice merges: what the second one sets wins, the rest stays.
                    hasStatus = true;
                    ReadStatus(fields.LengthDelimited(), ref statusCode, ref statusMessage);
                    break;
                default: fields.Skip(field, type); break;
            }
        }

        return new SpanData(
            traceId, spanId, parent, service, instance, scope, name, (Telemetry.SpanKind)kind,
            ToNanos(start), ToNanos(end),
            hasStatus ? (SpanStatus)statusCode : SpanStatus.Unset, statusMessage,
            attributeCount == 0 ? "{}" : Finish(_attributes, _attributesBuffer, endObject: true),
            eventCount == 0 ? "[]" : Finish(_events, _eventsBuffer, endObject: false));
    }

    private static string Finish(Utf8JsonWriter json, ArrayBufferWriter<byte> buffer, bool endObject)
    {
        if (endObject) json.WriteEndObject();
        else json.WriteEndArray();
        json.Flush();
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    // Status: string message = 2, StatusCode code = 3.
    private static void ReadStatus(ReadOnlySpan<byte> message, ref int code, ref string text)
    {
        var fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            if (field == 2 && type == WireReader.LengthDelimitedType) text = Text(fields.LengthDelimited());
            else if (field == 3 && type == WireReader.VarintType) code = (int)fields.Varint();
            else fields.Skip(field, type);
        }
    }

    // Event: fixed64 time_unix_nano = 1, string name = 2, repeated KeyValue attributes = 3. Written as the
    // converter writes it: {"name":..,"timeNs":..,"attributes":{..}}.
    private void WriteEvent(ReadOnlySpan<byte> message)
    {
        ReadOnlySpan<byte> name = default;
        ulong time = 0;
        var fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            if (field == 1 && type == WireReader.Fixed64Type) time = fields.Fixed64();
            else if (field == 2 && type == WireReader.LengthDelimitedType) name = fields.LengthDelimited();
            else fields.Skip(field, type);
        }
        _events.WriteStartObject();
        _events.WriteString("name"u8, name);
        _events.WriteNumber("timeNs"u8, ToNanos(time));
        _events.WritePropertyName("attributes"u8);
        _events.WriteStartObject();
        fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            if (field == 3 && type == WireReader.LengthDelimitedType) WriteAttribute(_events, fields.LengthDelimited());
            else fields.Skip(field, type);
        }
        _events.WriteEndObject();
        _events.WriteEndObject();
    }

    // KeyValue: string key = 1, AnyValue value = 2. Returns whether a value is present.
    private static bool KeyValue(ReadOnlySpan<byte> message, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        key = default;
        value = default;
        var hasValue = false;
        var fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            if (field == 1 && type == WireReader.LengthDelimitedType) key = fields.LengthDelimited();
            else if (field == 2 && type == WireReader.LengthDelimitedType)
            {
                value = fields.LengthDelimited();
                hasValue = true;
            }
            else fields.Skip(field, type);
        }
        return hasValue;
    }

    private static void WriteAttribute(Utf8JsonWriter json, ReadOnlySpan<byte> keyValue, int depth = 0)
    {
        var hasValue = KeyValue(keyValue, out var key, out var value);
        json.WritePropertyName(key);
        if (hasValue) WriteValue(json, value, depth + 1);
        else json.WriteNullValue();
    }

    // AnyValue, a oneof: string 1, bool 2, int64 3, double 4, ArrayValue 5, KeyValueList 6, bytes 7. The last
    // member present wins; none is null.
    private static void WriteValue(Utf8JsonWriter json, ReadOnlySpan<byte> message, int depth)
    {
        if (depth > MaxValueDepth) throw new MalformedOtlpException("Attribute values nested too deeply.");
        var kind = 0;
        ReadOnlySpan<byte> bytes = default;
        ulong number = 0;
        var fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            switch ((field, type))
            {
                case (1 or 5 or 6 or 7, WireReader.LengthDelimitedType): bytes = fields.LengthDelimited(); kind = field; break;
                case (2 or 3, WireReader.VarintType): number = fields.Varint(); kind = field; break;
                case (4, WireReader.Fixed64Type): number = fields.Fixed64(); kind = field; break;
                default: fields.Skip(field, type); break;
            }
        }
        switch (kind)
        {
            case 1: json.WriteStringValue(bytes); break;
            case 2: json.WriteBooleanValue(number != 0); break;
            case 3: json.WriteNumberValue((long)number); break;
            case 4:
                var real = BitConverter.UInt64BitsToDouble(number);
                // JSON has no NaN or infinity; keep them readable instead of failing the whole request.
                if (double.IsFinite(real)) json.WriteNumberValue(real);
                else json.WriteStringValue(real.ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            case 5:
                json.WriteStartArray();
                var items = new WireReader(bytes);
                while (items.Next(out var field, out var type))
                {
                    if (field == 1 && type == WireReader.LengthDelimitedType) WriteValue(json, items.LengthDelimited(), depth + 1);
                    else items.Skip(field, type);
                }
                json.WriteEndArray();
                break;
            case 6:
                json.WriteStartObject();
                var entries = new WireReader(bytes);
                while (entries.Next(out var field, out var type))
                {
                    if (field == 1 && type == WireReader.LengthDelimitedType) WriteAttribute(json, entries.LengthDelimited(), depth + 1);
                    else entries.Skip(field, type);
                }
                json.WriteEndObject();
                break;
            case 7: json.WriteBase64StringValue(bytes); break;
            default: json.WriteNullValue(); break;
        }
    }

    // AnyValue.string_value as .NET text; "" when the value is of another kind (the generated class's StringValue).
    private static string StringValue(ReadOnlySpan<byte> message)
    {
        var text = "";
        var fields = new WireReader(message);
        while (fields.Next(out var field, out var type))
        {
            if (field == 1 && type == WireReader.LengthDelimitedType) text = Text(fields.LengthDelimited());
            else
            {
                if (field is >= 2 and <= 7) text = "";
                fields.Skip(field, type);
            }
        }
        return text;
    }

    private static string Text(ReadOnlySpan<byte> utf8) => utf8.IsEmpty ? "" : Encoding.UTF8.GetString(utf8);

    // Out-of-range times (a sender's bug) must not overflow into negative nanoseconds.
    private static long ToNanos(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;
}
