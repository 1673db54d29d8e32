using Bazaar.Dashboard.Otlp;
using Bazaar.Dashboard.Otlp.Proto;
using Bazaar.Dashboard.Telemetry;
using Google.Protobuf;

namespace Bazaar.UnitTests.Dashboard;

/// <summary>
/// The receiver's wire reader against what it replaced (Google.Protobuf's generated classes and the converter):
/// the same rows from the same bodies, and the same refusals.
/// </summary>
public sealed class OtlpTraceReaderTests
{
    private static KeyValue Attribute(string key, AnyValue value) => new() { Key = key, Value = value };

    private static AnyValue Text(string value) => new() { StringValue = value };

    private static ByteString Bytes(params int[] values) => ByteString.CopyFrom([.. values.Select(v => (byte)v)]);

    // Every field the converter keeps, with values that need care: escaping, non-ASCII text, nesting, NaN,
    // negative and out-of-range numbers, missing resource attributes, a resource placed after its spans.
    private static ExportTraceServiceRequest EveryField()
    {
        var server = new Span
        {
            TraceId = Bytes([.. Enumerable.Range(1, 16)]),
            SpanId = Bytes(0xAB, 0, 0, 0, 0, 0, 0, 1),
            Name = "GET /api/catalog/items \"quoted\" <b>&</b> ünïcødé 日本",
            Kind = Span.Types.SpanKind.Server,
            StartTimeUnixNano = 1_763_000_000_000_000_000,
            EndTimeUnixNano = ulong.MaxValue,
            TraceState = "vendor=ignored",
            Status = new Status { Code = Status.Types.StatusCode.Error, Message = "boom – failed" },
            Events =
            {
                new Span.Types.Event { Name = "exception", TimeUnixNano = 1_763_000_000_000_000_500, Attributes = { Attribute("exception.message", Text("bad \n line")) } },
                new Span.Types.Event { Name = "empty" },
            },
            Links = { new Span.Types.Link { TraceId = Bytes([.. Enumerable.Range(0, 16)]), SpanId = Bytes(1, 2, 3, 4, 5, 6, 7, 8) } },
        };
        server.Attributes.Add(Attribute("http.response.status_code", new AnyValue { IntValue = 500 }));
        server.Attributes.Add(Attribute("negative", new AnyValue { IntValue = long.MinValue }));
        server.Attributes.Add(Attribute("retry", new AnyValue { BoolValue = true }));
        server.Attributes.Add(Attribute("ratio", new AnyValue { DoubleValue = 0.25 }));
        server.Attributes.Add(Attribute("not a number", new AnyValue { DoubleValue = double.NaN }));
        server.Attributes.Add(Attribute("infinite", new AnyValue { DoubleValue = double.NegativeInfinity }));
        server.Attributes.Add(Attribute("raw", new AnyValue { BytesValue = Bytes(0, 255, 16) }));
        server.Attributes.Add(Attribute("none", new AnyValue()));
        server.Attributes.Add(new KeyValue { Key = "absent" });
        server.Attributes.Add(Attribute("tags", new AnyValue { ArrayValue = new ArrayValue { Values = { Text("a"), new AnyValue { IntValue = 2 }, new AnyValue { ArrayValue = new ArrayValue() } } } }));
        server.Attributes.Add(Attribute("map", new AnyValue { KvlistValue = new KeyValueList { Values = { Attribute("inner", new AnyValue { KvlistValue = new KeyValueList { Values = { Attribute("deep", Text("x")) } } }) } } }));
        server.Attributes.Add(Attribute("url.path", Text("/api/catalog/items?q=<script>")));

        var client = new Span
        {
            TraceId = Bytes([.. Enumerable.Range(1, 16)]),
            SpanId = Bytes(0, 0, 0, 0, 0, 0, 0, 2),
            ParentSpanId = Bytes(0xAB, 0, 0, 0, 0, 0, 0, 1),
            Name = "SELECT catalogdb.catalog_items",
            Kind = Span.Types.SpanKind.Client,
            StartTimeUnixNano = 1_763_000_000_000_000_100,
            EndTimeUnixNano = 1_763_000_000_000_900_100,
            Status = new Status { Code = Status.Types.StatusCode.Ok },
        };
        var odd = new Span
        {
            // Ids of the wrong length (a sender's bug) and an unknown kind: kept, not refused, as before.
            TraceId = Bytes(1, 2, 3),
            SpanId = Bytes(9),
            Kind = (Span.Types.SpanKind)9,
        };

        var resource = new Resource { Attributes = { Attribute("service.name", Text("catalog-api")), Attribute("service.instance.id", Text("catalog-api-1")), Attribute("host", Text("h")) } };
        var request = new ExportTraceServiceRequest
        {
            ResourceSpans =
            {
                new ResourceSpans
                {
                    Resource = resource,
                    ScopeSpans =
                    {
                        new ScopeSpans { Scope = new InstrumentationScope { Name = "Microsoft.AspNetCore", Version = "10.0" }, Spans = { server, client } },
                        new ScopeSpans { Spans = { odd } },
                    },
                },
                new ResourceSpans
                {
                    // No service name: filed under unknown_service; a service.name that is not a string counts as none.
                    Resource = new Resource { Attributes = { Attribute("service.name", new AnyValue { IntValue = 3 }) } },
                    ScopeSpans = { new ScopeSpans { Scope = new InstrumentationScope { Name = "worker" }, Spans = { client.Clone() } } },
                },
                new ResourceSpans { ScopeSpans = { new ScopeSpans { Spans = { server.Clone() } } } },
            },
        };
        return request;
    }

    private static IReadOnlyList<SpanData> Converted(byte[] body) =>
        new OtlpConverter().Convert(ExportTraceServiceRequest.Parser.ParseFrom(body));

    [Fact]
    public void Every_field_the_converter_kept_is_read_the_same_from_the_wire()
    {
        var body = EveryField().ToByteArray();

        var read = new OtlpTraceReader().Read(body);

        Assert.Equal(Converted(body), read);
        Assert.Equal(5, read.Count);
        Assert.Equal("0102030405060708090a0b0c0d0e0f10", read[0].TraceId.ToString());
        Assert.Equal("ab00000000000001", read[1].ParentSpanId.ToString());
        Assert.Equal(("unknown_service", "unknown_service"), (read[3].Resource, read[3].Instance));
    }

    [Fact]
    public void A_resource_written_after_its_spans_and_unknown_fields_anywhere_change_nothing()
    {
        var request = EveryField();
        var resourceSpans = request.ResourceSpans[0];
        var inOrder = new ExportTraceServiceRequest { ResourceSpans = { resourceSpans } }.ToByteArray();
        // ResourceSpans with scope_spans (2) first and resource (1) last, then unknown fields of every wire type.
        var reordered = new MemoryStream();
        var output = new CodedOutputStream(reordered);
        var inner = new MemoryStream();
        var innerOutput = new CodedOutputStream(inner);
        foreach (var scope in resourceSpans.ScopeSpans)
        {
            innerOutput.WriteTag(2, WireFormat.WireType.LengthDelimited);
            innerOutput.WriteMessage(scope);
        }
        innerOutput.WriteTag(1, WireFormat.WireType.LengthDelimited);
        innerOutput.WriteMessage(resourceSpans.Resource);
        innerOutput.WriteTag(99, WireFormat.WireType.Varint);
        innerOutput.WriteUInt64(12345);
        innerOutput.WriteTag(98, WireFormat.WireType.Fixed32);
        innerOutput.WriteFixed32(7);
        innerOutput.WriteTag(97, WireFormat.WireType.Fixed64);
        innerOutput.WriteFixed64(7);
        innerOutput.WriteTag(96, WireFormat.WireType.LengthDelimited);
        innerOutput.WriteString("ignored");
        innerOutput.Flush();
        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(inner.ToArray()));
        output.WriteTag(50, WireFormat.WireType.Varint);
        output.WriteUInt64(1);
        output.Flush();

        Assert.Equal(new OtlpTraceReader().Read(inOrder), new OtlpTraceReader().Read(reordered.ToArray()));
        Assert.Equal(Converted(reordered.ToArray()), new OtlpTraceReader().Read(reordered.ToArray()));
    }

    [Fact]
    public void An_empty_body_is_a_request_without_spans()
    {
        Assert.Empty(new OtlpTraceReader().Read([]));
    }

    public static TheoryData<string, byte[]> Malformed()
    {
        var body = EveryField().ToByteArray();
        return new()
        {
            { "cut in the middle of a span", body[..(body.Length / 2)] },
            { "a length beyond the end", [0x0A, 0x7F, 0x0A, 0x00] },
            { "wire type 7", [0x0F, 0x00] },
            { "field number 0", [0x02, 0x00] },
            { "a varint of 11 bytes", [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01] },
            { "text, not protobuf", "this is not protobuf"u8.ToArray() },
            { "groups nested 1,000 deep", [.. Enumerable.Repeat((byte)0x0B, 1_000), .. Enumerable.Repeat((byte)0x0C, 1_000)] },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_body_the_generated_parser_refuses_is_refused(string what, byte[] body)
    {
        Assert.Throws<InvalidProtocolBufferException>(() => ExportTraceServiceRequest.Parser.ParseFrom(body));
        var exception = Assert.Throws<MalformedOtlpException>(() => new OtlpTraceReader().Read(body));
        Assert.False(string.IsNullOrEmpty(exception.Message), what);
    }

    [Fact]
    public void Text_that_is_not_utf8_is_kept_as_the_generated_parser_keeps_it()
    {
        var span = new Span { TraceId = Bytes([.. Enumerable.Range(1, 16)]), SpanId = Bytes(1, 0, 0, 0, 0, 0, 0, 1), Name = "BBBB" };
        span.Attributes.Add(Attribute("k", Text("AAAA")));
        var body = new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { ScopeSpans = { new ScopeSpans { Spans = { span } } } } } }.ToByteArray();
        foreach (var text in new[] { "AAAA"u8.ToArray(), "BBBB"u8.ToArray() })
        {
            var at = body.AsSpan().IndexOf(text);
            body[at] = 0xC3;
            body[at + 1] = 0x28;
        }

        var read = Assert.Single(new OtlpTraceReader().Read(body));

        Assert.Equal(Assert.Single(Converted(body)), read);
        Assert.Contains('\uFFFD', read.Name);
    }
}
