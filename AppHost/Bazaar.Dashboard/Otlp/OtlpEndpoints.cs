using System.Buffers;
using System.IO.Compression;
using Bazaar.Dashboard.Otlp.Proto;
using Bazaar.Dashboard.Telemetry;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Bazaar.Dashboard.Otlp;

/// <summary>OTLP/HTTP with binary protobuf bodies, as OpenTelemetry .NET sends with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf.</summary>
public static class OtlpEndpoints
{
    private const string ProtobufContentType = "application/x-protobuf";

    /// <summary>The most a gzip body may inflate to: Kestrel's default request body limit.</summary>
    public const int MaxInflatedBytes = 30_000_000;

    // The empty response messages encode to zero bytes; computed once instead of per request.
    private static readonly byte[] TraceResponse = new ExportTraceServiceResponse().ToByteArray();
    private static readonly byte[] LogsResponse = new ExportLogsServiceResponse().ToByteArray();
    private static readonly byte[] MetricsResponse = new ExportMetricsServiceResponse().ToByteArray();

    public static IEndpointRouteBuilder MapOtlpReceiver(this IEndpointRouteBuilder endpoints)
    {
        var otlp = endpoints.MapGroup("/v1").WithTags("OTLP");
        otlp.MapPost("/traces", (HttpRequest request, TelemetryIngestor ingestor, ReceiverStatistics statistics, CancellationToken ct) =>
                ReceiveAsync(request, SpanParser, TraceResponse, ingestor, statistics, ct))
            .WithName("OtlpExportTraces").WithSummary("Receives spans (ExportTraceServiceRequest).");
        otlp.MapPost("/logs", (HttpRequest request, TelemetryIngestor ingestor, ReceiverStatistics statistics, CancellationToken ct) =>
                ReceiveAsync(request, ProtobufParser<ExportLogsServiceRequest>.Of(ExportLogsServiceRequest.Parser, Pending), LogsResponse, ingestor, statistics, ct))
            .WithName("OtlpExportLogs").WithSummary("Receives log records (ExportLogsServiceRequest).");
        otlp.MapPost("/metrics", (HttpRequest request, TelemetryIngestor ingestor, ReceiverStatistics statistics, CancellationToken ct) =>
                ReceiveAsync(request, ProtobufParser<ExportMetricsServiceRequest>.Of(ExportMetricsServiceRequest.Parser, Pending), MetricsResponse, ingestor, statistics, ct))
            .WithName("OtlpExportMetrics").WithSummary("Receives metric data points (ExportMetricsServiceRequest).");
        return endpoints;
    }

    /// <summary>Turns a whole request body into what waits for the writer; throws for a body that is not the message.</summary>
    private delegate PendingTelemetry BodyParser(ReadOnlySpan<byte> body);

    // Spans, by far the most numerous rows, are read straight off the wire (OtlpTraceReader) on the request thread:
    // the request is answered 400 when its body is not one, and the writer only inserts. One reader per thread
    // keeps its JSON buffers; reading is synchronous, so a request never shares it.
    [ThreadStatic]
    private static OtlpTraceReader? t_traceReader;

    private static PendingTelemetry SpanParser(ReadOnlySpan<byte> body)
    {
        var spans = (t_traceReader ??= new OtlpTraceReader()).Read(body);
        return new PendingTelemetry(TelemetrySignal.Spans, spans.Count, _ => new TelemetryBatch(spans, [], []));
    }

    // Logs and metrics, a small share of the rows, go through the generated classes and the converter.
    private static class ProtobufParser<TRequest>
        where TRequest : IMessage<TRequest>
    {
        public static BodyParser Of(MessageParser<TRequest> parser, Func<TRequest, PendingTelemetry> pending) => body =>
        {
            try
            {
                return pending(parser.ParseFrom(body));
            }
            catch (InvalidProtocolBufferException exception)
            {
                throw new MalformedOtlpException(exception.Message, exception);
            }
        };
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> ReceiveAsync(
        HttpRequest request,
        BodyParser parser,
        byte[] response,
        TelemetryIngestor ingestor,
        ReceiverStatistics statistics,
        CancellationToken cancellationToken)
    {
        if (request.ContentType is not { } contentType || !contentType.StartsWith(ProtobufContentType, StringComparison.OrdinalIgnoreCase))
        {
            statistics.Malformed();
            return TypedResults.Problem(
                title: "Unsupported media type",
                detail: $"This receiver accepts OTLP as {ProtobufContentType} (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf).",
                statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        PendingTelemetry pending;
        try
        {
            pending = string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase)
                ? await ParseGzipAsync(request, parser, cancellationToken)
                : await ParseAsync(request, parser, cancellationToken);
        }
        catch (Exception exception) when (exception is MalformedOtlpException or InvalidDataException)
        {
            statistics.Malformed();
            return TypedResults.Problem(
                title: "Malformed OTLP request",
                detail: $"The body is not a valid OTLP export request for {request.Path}: {exception.Message}",
                statusCode: StatusCodes.Status400BadRequest);
        }

        // Answered as soon as the body decodes: SQLite happens on the ingest loop, off the exporter's clock.
        ingestor.Enqueue(pending);
        return TypedResults.Bytes(response, ProtobufContentType);
    }

    // Parsed straight from Kestrel's pipe once the whole body is in: no copy into a growing MemoryStream, whose
    // buffers for a 512-span request (about 100 KB) land on the large-object heap and cost gen-2 collections. A body
    // that arrived in several segments is copied once into a pooled array.
    private static async Task<PendingTelemetry> ParseAsync(HttpRequest request, BodyParser parser, CancellationToken cancellationToken)
    {
        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            if (result.IsCompleted)
            {
                try
                {
                    var body = result.Buffer;
                    if (body.IsSingleSegment) return parser(body.FirstSpan);
                    var copy = ArrayPool<byte>.Shared.Rent(checked((int)body.Length));
                    try
                    {
                        body.CopyTo(copy);
                        return parser(copy.AsSpan(0, (int)body.Length));
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(copy);
                    }
                }
                finally
                {
                    reader.AdvanceTo(result.Buffer.End);
                }
            }
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    // Kestrel bounds the compressed body; the inflated one is bounded here, so a small gzip bomb cannot make the
    // AppHost allocate gigabytes (it is refused as malformed, like any body that is not an export request).
    private static async Task<PendingTelemetry> ParseGzipAsync(HttpRequest request, BodyParser parser, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        await using (var source = new GZipStream(request.Body, CompressionMode.Decompress))
        {
            var chunk = ArrayPool<byte>.Shared.Rent(81_920);
            try
            {
                int read;
                while ((read = await source.ReadAsync(chunk, cancellationToken)) > 0)
                {
                    if (body.Length + read > MaxInflatedBytes)
                    {
                        throw new InvalidDataException($"The body inflates to more than {MaxInflatedBytes} bytes.");
                    }
                    body.Write(chunk, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }
        return parser(body.GetBuffer().AsSpan(0, (int)body.Length));
    }

    private static PendingTelemetry Pending(ExportLogsServiceRequest request) => new(
        TelemetrySignal.Logs,
        request.ResourceLogs.Sum(r => r.ScopeLogs.Sum(s => s.LogRecords.Count)),
        c => new TelemetryBatch([], c.Convert(request), []));

    // Counted as the converter counts them: one row per number or histogram data point; other kinds are not kept.
    private static PendingTelemetry Pending(ExportMetricsServiceRequest request) => new(
        TelemetrySignal.Points,
        request.ResourceMetrics.Sum(r => r.ScopeMetrics.Sum(s => s.Metrics.Sum(m => m.DataCase switch
        {
            Metric.DataOneofCase.Gauge => m.Gauge.DataPoints.Count,
            Metric.DataOneofCase.Sum => m.Sum.DataPoints.Count,
            Metric.DataOneofCase.Histogram => m.Histogram.DataPoints.Count,
            _ => 0,
        }))),
        c => new TelemetryBatch([], [], c.Convert(request)));
}
