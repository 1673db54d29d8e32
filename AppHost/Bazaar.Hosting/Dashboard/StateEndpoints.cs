using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Bazaar.Hosting.Dashboard;

/// <summary>One row of GET /api/resources: a resource or one of its replicas.</summary>
public sealed record ResourceStateDto(
    string Name,
    string Resource,
    int? Replica,
    string Type,
    ResourceState State,
    ResourceHealth Health,
    IReadOnlyList<string> Endpoints,
    int? Pid,
    int Restarts,
    DateTimeOffset? StartedAt,
    int? ExitCode,
    string? Message,
    IReadOnlyList<HealthCheckSnapshot> HealthChecks)
{
    public static ResourceStateDto From(ResourceSnapshot s) =>
        new(s.Name, s.ResourceName, s.Replica, s.Type, s.State, s.Health, s.Endpoints, s.Pid, s.Restarts, s.StartedAt, s.ExitCode, s.Message, s.HealthChecks);
}

public static class StateEndpoints
{
    /// <summary>GET /api/resources, and the plain HTML page at /state (and at / unless a dashboard takes it).</summary>
    public static IEndpointRouteBuilder MapStateEndpoints(this IEndpointRouteBuilder endpoints, bool htmlAtRoot)
    {
        endpoints.MapGet("/api/resources", GetResources)
            .WithName("GetResources")
            .WithSummary("Every resource and replica: state, health, endpoints, pid, restarts, start time.")
            .WithTags("Resources");
        endpoints.MapGet("/api/resources/{name}/logs", GetLogs)
            .WithName("GetResourceLogs")
            .WithSummary("The console output of a resource or replica, as plain text.")
            .WithTags("Resources");
        endpoints.MapGet("/state", GetPage)
            .WithName("GetStatePage")
            .WithSummary("A plain HTML page listing every resource.")
            .WithTags("Resources");
        if (htmlAtRoot)
        {
            endpoints.MapGet("/", GetPage).WithName("GetRootStatePage").WithTags("Resources");
        }

        return endpoints;
    }

    public static Ok<List<ResourceStateDto>> GetResources(ResourceNotificationService notifications) =>
        TypedResults.Ok(notifications.GetCurrentSnapshots().Select(ResourceStateDto.From).ToList());

    public static Results<ContentHttpResult, ProblemHttpResult> GetLogs(string name, ResourceNotificationService notifications, ResourceLoggerService logs)
    {
        if (!notifications.TryGetCurrentSnapshot(name, out _))
        {
            return TypedResults.Problem(detail: $"There is no resource or replica named '{name}'.", statusCode: StatusCodes.Status404NotFound, title: "Resource not found");
        }

        return TypedResults.Content(string.Join('\n', logs.GetLogs(name).Select(l => l.Content)) + "\n", "text/plain; charset=utf-8");
    }

    public static ContentHttpResult GetPage(ResourceNotificationService notifications)
    {
        var html = new StringBuilder();
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>Bazaar resources</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
            .Running{color:green}.FailedToStart,.Exited,.Unhealthy{color:#b00}</style></head>
            <body><h1>Bazaar resources</h1><p>JSON: <a href="/api/resources">/api/resources</a></p>
            <table><thead><tr><th>Name</th><th>Type</th><th>State</th><th>Health</th><th>Endpoints</th><th>Pid</th><th>Restarts</th><th>Started</th></tr></thead><tbody>
            """);
        foreach (ResourceSnapshot s in notifications.GetCurrentSnapshots())
        {
            string endpoints = string.Join("<br>", s.Endpoints.Select(e => $"<a href=\"{WebUtility.HtmlEncode(e)}\">{WebUtility.HtmlEncode(e)}</a>"));
            html.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"<tr><td>{WebUtility.HtmlEncode(s.Name)}</td><td>{s.Type}</td><td class=\"{s.State}\" title=\"{WebUtility.HtmlEncode(s.Message ?? string.Empty)}\">{s.State}</td>"
                + $"<td>{s.Health}</td><td>{endpoints}</td><td>{s.Pid}</td><td>{s.Restarts}</td><td>{s.StartedAt:u}</td></tr>");
        }

        html.Append("</tbody></table></body></html>");
        return TypedResults.Content(html.ToString(), "text/html; charset=utf-8");
    }
}
