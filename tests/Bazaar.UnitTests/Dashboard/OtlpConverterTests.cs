using System.Text.Json;
using Bazaar.Dashboard.Otlp;
using Bazaar.Dashboard.Otlp.Proto;
using Google.Protobuf;

namespace Bazaar.UnitTests.Dashboard;

public sealed class OtlpConverterTests
{
    private static KeyValue Attribute(string key, AnyValue value) => new() { Key = key, Value = value };

    [Fact]
    public void A_span_takes_its_service_and_instance_from_the_resource_and_keeps_typed_attributes()
    {
        var span = new Span
        {
            TraceId = ByteString.CopyFrom(Enumerable.Range(1, 16).Select(i => (byte)i).ToArray()),
            SpanId = ByteString.CopyFrom(new byte[] { 0xAB, 0, 0, 0, 0, 0, 0, 1 }),
            Name = "GET /",
            Status = new Status { Code = Status.Types.StatusCode.Error, Message = "boom" },
        };
        span.Attributes.Add(Attribute("http.response.status_code", new AnyValue { IntValue = 500 }));
        span.Attributes.Add(Attribute("retry", new AnyValue { BoolValue = true }));
        span.Attributes.Add(Attribute("tags", new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { StringValue = "a" } } } }));
        var resource = new Resource();
        resource.Attributes.Add(Attribute("service.name", new AnyValue { StringValue = "catalog-api" }));
        resource.Attributes.Add(Attribute("service.instance.id", new AnyValue { StringValue = "catalog-api-1" }));
        var request = new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { Resource = resource, ScopeSpans = { new ScopeSpans { Spans = { span } } } } } };

        var converted = Assert.Single(new OtlpConverter().Convert(request));

        Assert.Equal("0102030405060708090a0b0c0d0e0f10", converted.TraceId.ToString());
        Assert.Equal("ab00000000000001", converted.SpanId.ToString());
        Assert.True(converted.ParentSpanId.IsNone);
        Assert.Equal(("catalog-api", "catalog-api-1"), (converted.Resource, converted.Instance));
        Assert.Equal(Bazaar.Dashboard.Telemetry.SpanStatus.Error, converted.Status);
        using var attributes = JsonDocument.Parse(converted.AttributesJson);
        Assert.Equal(500, attributes.RootElement.GetProperty("http.response.status_code").GetInt32());
        Assert.True(attributes.RootElement.GetProperty("retry").GetBoolean());
        Assert.Equal("a", attributes.RootElement.GetProperty("tags")[0].GetString());
    }

    [Fact]
    public void Telemetry_without_a_service_name_is_filed_under_unknown_service()
    {
        var request = new ExportLogsServiceRequest { ResourceLogs = { new ResourceLogs { ScopeLogs = { new ScopeLogs { LogRecords = { new LogRecord { Body = new AnyValue { StringValue = "hello" } } } } } } } };

        var log = Assert.Single(new OtlpConverter().Convert(request));

        Assert.Equal("unknown_service", log.Resource);
        Assert.Equal("hello", log.Message);
    }

    [Fact]
    public void A_double_that_json_cannot_hold_is_kept_as_text()
    {
        var record = new LogRecord();
        record.Attributes.Add(Attribute("ratio", new AnyValue { DoubleValue = double.NaN }));
        var request = new ExportLogsServiceRequest { ResourceLogs = { new ResourceLogs { ScopeLogs = { new ScopeLogs { LogRecords = { record } } } } } };

        var log = Assert.Single(new OtlpConverter().Convert(request));

        Assert.Equal("{\"ratio\":\"NaN\"}", log.AttributesJson);
    }
}
