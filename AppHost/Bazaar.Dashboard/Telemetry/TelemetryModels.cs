using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json.Serialization;

namespace Bazaar.Dashboard.Telemetry;

/// <summary>
/// A W3C trace id as two 64-bit integers (big-endian halves of its 16 bytes), stored as two INTEGER columns: cheaper
/// to decode, bind, index and compare than its 32-character hex text. All zeros is "no trace" (W3C calls it invalid).
/// </summary>
public readonly record struct TraceId(ulong High, ulong Low)
{
    public static readonly TraceId None = default;

    public bool IsNone => High == 0 && Low == 0;

    /// <summary>From OTLP's bytes; a length other than 16 (a sender's bug) is zero-padded or cut, never rejected.</summary>
    public static TraceId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 16) return new(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
        Span<byte> padded = stackalloc byte[16];
        padded.Clear();
        bytes[..Math.Min(16, bytes.Length)].CopyTo(padded);
        return new(BinaryPrimitives.ReadUInt64BigEndian(padded), BinaryPrimitives.ReadUInt64BigEndian(padded[8..]));
    }

    /// <summary>32 hex digits, either case; "" is <see cref="None"/>.</summary>
    public static bool TryParse(string? hex, out TraceId id)
    {
        id = None;
        if (string.IsNullOrEmpty(hex)) return true;
        if (hex.Length != 32
            || !ulong.TryParse(hex.AsSpan(0, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var high)
            || !ulong.TryParse(hex.AsSpan(16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var low)) return false;
        id = new(high, low);
        return true;
    }

    public static TraceId Parse(string hex) => TryParse(hex, out var id) ? id : throw new FormatException($"Not a trace id: {hex}");

    /// <summary>Lower-case hex as W3C and the pages show it; "" for <see cref="None"/>.</summary>
    public override string ToString() => IsNone ? "" : string.Create(CultureInfo.InvariantCulture, $"{High:x16}{Low:x16}");
}

/// <summary>A span id as one 64-bit integer (its 8 bytes big-endian); 0 is "no span" (a root's parent).</summary>
public readonly record struct SpanId(ulong Value)
{
    public static readonly SpanId None = default;

    public bool IsNone => Value == 0;

    public static SpanId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 8) return new(BinaryPrimitives.ReadUInt64BigEndian(bytes));
        Span<byte> padded = stackalloc byte[8];
        padded.Clear();
        bytes[..Math.Min(8, bytes.Length)].CopyTo(padded);
        return new(BinaryPrimitives.ReadUInt64BigEndian(padded));
    }

    public static SpanId Parse(string hex) =>
        string.IsNullOrEmpty(hex) ? None
        : hex.Length == 16 && ulong.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value) ? new(value)
        : throw new FormatException($"Not a span id: {hex}");

    public override string ToString() => IsNone ? "" : Value.ToString("x16", CultureInfo.InvariantCulture);
}

/// <summary>A span as stored: ids as integers, times in Unix nanoseconds, attributes and events as JSON.</summary>
public sealed record SpanData(
    TraceId TraceId,
    SpanId SpanId,
    SpanId ParentSpanId,
    string Resource,
    string Instance,
    string Scope,
    string Name,
    SpanKind Kind,
    long StartNs,
    long EndNs,
    SpanStatus Status,
    string StatusMessage,
    string AttributesJson,
    string EventsJson);

[JsonConverter(typeof(JsonStringEnumConverter<SpanKind>))]
public enum SpanKind { Unspecified = 0, Internal = 1, Server = 2, Client = 3, Producer = 4, Consumer = 5 }

[JsonConverter(typeof(JsonStringEnumConverter<SpanStatus>))]
public enum SpanStatus { Unset = 0, Ok = 1, Error = 2 }

/// <summary>A structured log record; severity uses OTLP's severity numbers (9 = Information, 17 = Error).</summary>
public sealed record LogData(
    long TimeNs,
    string Resource,
    string Instance,
    string Scope,
    int Severity,
    string SeverityText,
    string Message,
    string AttributesJson,
    TraceId TraceId,
    SpanId SpanId);

[JsonConverter(typeof(JsonStringEnumConverter<InstrumentKind>))]
public enum InstrumentKind { Gauge = 0, Sum = 1, Histogram = 2 }

/// <summary>One data point of one instrument. Histograms carry bounds and bucket counts; the others a value.</summary>
public sealed record MetricPointData(
    string Resource,
    string Instance,
    string Scope,
    string Name,
    string Description,
    string Unit,
    InstrumentKind Kind,
    bool IsMonotonic,
    long TimeNs,
    string AttributesJson,
    double Value,
    long Count,
    double Sum,
    double[] Bounds,
    long[] BucketCounts);

/// <summary>What one OTLP request delivered; written to storage as one unit of a larger transaction.</summary>
public sealed record TelemetryBatch(
    IReadOnlyList<SpanData> Spans,
    IReadOnlyList<LogData> Logs,
    IReadOnlyList<MetricPointData> Points)
{
    public int Count => Spans.Count + Logs.Count + Points.Count;
}
