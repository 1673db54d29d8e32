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

    // The empty response messages encode to zero bytes; computed once instead of per request.
    private static readonly byte[] TraceResponse = new ExportTraceServiceResponse().ToByteArray();
    private static readonly byte[] LogsResponse = new ExportLogsServiceResponse().ToByteArray();
    private static readonly byte[] MetricsResponse = new ExportMetricsServiceResponse().ToByteArray();

    public static IEndpointRouteBuilder MapOtlpReceiver(this IEndpointRouteBuilder endpoints)
    {
        var otlp = endpoints.MapGroup("/v1").WithTags("OTLP");
        otlp.MapPost("/traces", (HttpRequest request, TelemetryIngestor ingestor, ReceiverStatistics statistics, CancellationToken ct) =>
                ReceiveAsync(request, ExportTraceServiceRequest.Parser, Pending, TraceResponse, ingestor, statistics, ct))
            .WithName("OtlpExportTraces").WithSummary("Receives spans (ExportTraceServiceRequest).");
        otlp.MapPost("/logs", (HttpRequest request, TelemetryIngestor ingestor, ReceiverStatistics statistics, CancellationToken ct) =>
                ReceiveAsync(request, ExportLogsServiceRequest.Parser, Pending, LogsResponse, ingestor, statistics, ct))
            .WithName("OtlpExportLogs").WithSummary("Receives log records (ExportLogsServiceRequest).");
        otlp.MapPost("/metrics", (HttpRequest request, TelemetryIngestor ingestor, ReceiverStatistics statistics, CancellationToken ct) =>
                ReceiveAsync(request, ExportMetricsServiceRequest.Parser, Pending, MetricsResponse, ingestor, statistics, ct))
            .WithName("OtlpExportMetrics").WithSummary("Receives metric data points (ExportMetricsServiceRequest).");
        return endpoints;
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> ReceiveAsync<TRequest>(
        HttpRequest request,
        MessageParser<TRequest> parser,
        Func<TRequest, PendingTelemetry> pending,
        byte[] response,
        TelemetryIngestor ingestor,
        ReceiverStatistics statistics,
        CancellationToken cancellationToken)
        where TRequest : IMessage<TRequest>
    {
        if (request.ContentType is not { } contentType || !contentType.StartsWith(ProtobufContentType, StringComparison.OrdinalIgnoreCase))
        {
            statistics.Malformed();
            return TypedResults.Problem(
                title: "Unsupported media type",
                detail: $"This receiver accepts OTLP as {ProtobufContentType} (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf).",
                statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        TRequest message;
        try
        {
            message = string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase)
                ? await ParseGzipAsync(request, parser, cancellationToken)
                : await ParseAsync(request, parser, cancellationToken);
        }
        catch (Exception exception) when (exception is InvalidProtocolBufferException or InvalidDataException)
        {
            statistics.Malformed();
            return TypedResults.Problem(
                title: "Malformed OTLP request",
                detail: $"The body is not a valid {typeof(TRequest).Name}: {exception.Message}",
                statusCode: StatusCodes.Status400BadRequest);
        }

        // Answered as soon as the body decodes: conversion and SQLite happen on the ingest loop, off the exporter's clock.
        ingestor.Enqueue(pending(message));
        return TypedResults.Bytes(response, ProtobufContentType);
    }

    // Parsed straight from Kestrel's pipe once the whole body is in: no copy into a growing MemoryStream, whose
    // buffers for a 512-span request (about 100 KB) land on the large-object heap and cost gen-2 collections.
    private static async Task<TRequest> ParseAsync<TRequest>(HttpRequest request, MessageParser<TRequest> parser, CancellationToken cancellationToken)
        where TRequest : IMessage<TRequest>
    {
        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            if (result.IsCompleted)
            {
                try
                {
                    return parser.ParseFrom(result.Buffer);
                }
                finally
                {
                    reader.AdvanceTo(result.Buffer.End);
                }
            }
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static async Task<TRequest> ParseGzipAsync<TRequest>(HttpRequest request, MessageParser<TRequest> parser, CancellationToken cancellationToken)
        where TRequest : IMessage<TRequest>
    {
        using var body = new MemoryStream();
        await using (var source = new GZipStream(request.Body, CompressionMode.Decompress))
        {
            await source.CopyToAsync(body, cancellationToken);
        }
        return parser.ParseFrom(body.GetBuffer(), 0, (int)body.Length);
    }

    private static PendingTelemetry Pending(ExportTraceServiceRequest request) => new(
        TelemetrySignal.Spans,
        request.ResourceSpans.Sum(r => r.ScopeSpans.Sum(s => s.Spans.Count)),
        c => new TelemetryBatch(c.Convert(request), [], []));

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
