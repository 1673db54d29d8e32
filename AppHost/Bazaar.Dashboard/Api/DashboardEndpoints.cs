using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Bazaar.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Bazaar.Dashboard.Api;

/// <summary>The pages' own files and Blazor's script (from the assembly), and the console log download.</summary>
public static class DashboardEndpoints
{
    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
    };

    // Read once: blazor.web.js is 200 KB and every page load asks for it (answered 304 when the browser has it).
    // Only files found are kept, so names asked for at random do not grow it.
    private static readonly ConcurrentDictionary<string, EmbeddedFile> Files = new(StringComparer.Ordinal);

    public static IEndpointRouteBuilder MapDashboardEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/dashboard/assets/{file}", (string file, HttpContext context) => Serve("Bazaar.Dashboard.Assets." + file, context))
            .WithName("GetDashboardAsset").ExcludeFromDescription();
        // Where blazor.web.js is expected by Blazor (it finds the _blazor hub relative to the document's base).
        endpoints.MapGet("/_framework/blazor.web.js", (HttpContext context) => Serve("Bazaar.Dashboard.Framework.blazor.web.js", context))
            .WithName("GetBlazorWebJs").ExcludeFromDescription();
        endpoints.MapGet("/api/console/{name}", DownloadConsole).WithName("DownloadConsoleLog")
            .WithSummary("The console output kept for a resource or replica, as a text file").WithTags("Console");
        return endpoints;
    }

    internal static Results<FileContentHttpResult, NotFound> Serve(string resourceName, HttpContext context)
    {
        if (!Files.TryGetValue(resourceName, out var file))
        {
            if (Load(resourceName) is not { } loaded) return TypedResults.NotFound();
            file = Files.GetOrAdd(resourceName, loaded);
        }
        // Revalidated on every load (no-cache), so a rebuilt dashboard's files are never stale.
        context.Response.Headers.CacheControl = "no-cache";
        return TypedResults.File(file.Content, file.ContentType, entityTag: file.ETag);
    }

    private static EmbeddedFile? Load(string resourceName)
    {
        if (!ContentTypes.TryGetValue(Path.GetExtension(resourceName), out var contentType)) return null;
        using var stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream(resourceName);
        if (stream is null) return null;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var content = copy.ToArray();
        return new EmbeddedFile(content, contentType, new EntityTagHeaderValue($"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\""));
    }

    private sealed record EmbeddedFile(byte[] Content, string ContentType, EntityTagHeaderValue ETag);

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
