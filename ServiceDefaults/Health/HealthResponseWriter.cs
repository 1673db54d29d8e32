using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bazaar.ServiceDefaults.Health;

/// <summary>The JSON body of /health and /alive: the overall status and every check's own result.</summary>
public sealed record HealthResponse(
    string Status,
    double TotalDurationMs,
    IReadOnlyList<HealthCheckResponse> Checks);

public sealed record HealthCheckResponse(
    string Name,
    string Status,
    double DurationMs,
    string? Description,
    string? Error,
    IReadOnlyList<string> Tags);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(HealthResponse))]
internal sealed partial class HealthJsonContext : JsonSerializerContext;

internal static class HealthResponseWriter
{
    public static HealthResponse ToResponse(HealthReport report) => new(
        report.Status.ToString(),
        Math.Round(report.TotalDuration.TotalMilliseconds, 3),
        [.. report.Entries.Select(entry => new HealthCheckResponse(
            entry.Key,
            entry.Value.Status.ToString(),
            Math.Round(entry.Value.Duration.TotalMilliseconds, 3),
            entry.Value.Description,
            // The message only: a stack trace tells a probe nothing and tells an attacker too much.
            entry.Value.Exception is { } exception ? $"{exception.GetType().Name}: {exception.Message}" : null,
            [.. entry.Value.Tags]))]);

    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return JsonSerializer.SerializeAsync(
            context.Response.Body,
            ToResponse(report),
            HealthJsonContext.Default.HealthResponse,
            context.RequestAborted);
    }
}
