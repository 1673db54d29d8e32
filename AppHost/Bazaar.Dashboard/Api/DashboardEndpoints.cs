using System.Text;
using Bazaar.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Bazaar.Dashboard.Api;

/// <summary>The pages' own files (from the assembly) and the console log download.</summary>
public static class DashboardEndpoints
{
    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
    };

    public static IEndpointRouteBuilder MapDashboardEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/dashboard/assets/{file}", GetAsset).WithName("GetDashboardAsset").WithSummary("The dashboard's stylesheet and script").WithTags("Dashboard").ExcludeFromDescription();
        endpoints.MapGet("/api/console/{name}", DownloadConsole).WithName("DownloadConsoleLog")
            .WithSummary("The console output kept for a resource or replica, as a text file").WithTags("Console");
        return endpoints;
    }

    internal static Results<FileContentHttpResult, NotFound> GetAsset(string file)
    {
        var extension = Path.GetExtension(file);
        if (!ContentTypes.TryGetValue(extension, out var contentType)) return TypedResults.NotFound();
        using var stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream("Bazaar.Dashboard.Assets." + file);
        if (stream is null) return TypedResults.NotFound();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return TypedResults.File(copy.ToArray(), contentType);
    }

    internal static Results<FileContentHttpResult, ProblemHttpResult> DownloadConsole(string name, ResourceNotificationService notifications, ResourceLoggerService logs)
    {
        if (!notifications.TryGetCurrentSnapshot(name, out _))
        {
            return TypedResults.Problem(title: "Resource not found", detail: $"No resource or replica is named '{name}'.", statusCode: StatusCodes.Status404NotFound);
        }
        var text = new StringBuilder();
        foreach (var line in logs.GetLogs(name))
        {
            text.Append(line.Timestamp.ToString("O", System.Globalization.CultureInfo.InvariantCulture)).Append(line.IsErrorMessage ? " ERR " : " OUT ").AppendLine(line.Content);
        }
        return TypedResults.File(Encoding.UTF8.GetBytes(text.ToString()), "text/plain; charset=utf-8", $"{name}.log");
    }
}
