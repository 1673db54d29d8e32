using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Bazaar.ServiceDefaults.Hosting;

/// <summary>
/// .NET 10 starts a span for every request but leaves it without attributes; OpenTelemetry.Instrumentation.AspNetCore,
/// which would add them, is absent from the package source. This adds the HTTP semantic-convention attributes
/// (method, path, route, status) and names the span "GET /api/items/{id}", so traces say what was asked.
/// It runs on every request of every service, so what repeats is computed once: the span name and route per endpoint,
/// the boxed status codes and port, the host and protocol version strings. Tags are added, not set: the span
/// arrives without any (the framework's own are off by default in .NET 10), so searching for an existing key first
/// would be wasted.
/// </summary>
internal sealed class RequestActivityStartupFilter : IStartupFilter
{
    private static readonly ConditionalWeakTable<RouteEndpoint, RouteNames> Routes = new();
    private static readonly object?[] BoxedStatusCodes = new object?[600];
    private static HostNames? lastHost;

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(static async (context, nextMiddleware) =>
        {
            Activity? activity = context.Features.Get<IHttpActivityFeature>()?.Activity;
            if (activity is not { IsAllDataRequested: true })
            {
                await nextMiddleware(context);
                return;
            }

            HttpRequest request = context.Request;
            activity.AddTag("http.request.method", request.Method);
            activity.AddTag("url.scheme", request.Scheme);
            activity.AddTag("url.path", request.Path.Value);
            if (request.QueryString.HasValue)
            {
                activity.AddTag("url.query", request.QueryString.Value);
            }

            HostNames host = Host(request.Host);
            activity.AddTag("server.address", host.Address);
            if (host.Port is not null)
            {
                activity.AddTag("server.port", host.Port);
            }

            activity.AddTag("network.protocol.version", ProtocolVersion(request.Protocol));
            if (request.Headers.UserAgent.Count > 0)
            {
                activity.AddTag("user_agent.original", request.Headers.UserAgent.ToString());
            }

            try
            {
                await nextMiddleware(context);
            }
            catch (Exception exception)
            {
                activity.SetTag("error.type", exception.GetType().FullName);
                activity.SetStatus(ActivityStatusCode.Error, exception.Message);
                throw;
            }
            finally
            {
                Describe(activity, context);
            }
        });
        next(app);
    };

    private static void Describe(Activity activity, HttpContext context)
    {
        int status = context.Response.StatusCode;
        activity.AddTag("http.response.status_code", Boxed(status));
        if (context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: not null } endpoint)
        {
            RouteNames names = Routes.GetValue(endpoint, static e => new RouteNames(e.RoutePattern.RawText!));
            activity.AddTag("http.route", names.Route);
            activity.DisplayName = names.DisplayName(context.Request.Method);
        }
        else
        {
            activity.DisplayName = context.Request.Method;
        }

        // For a server span only 5xx is an error: a 404 is the server answering correctly.
        if (status >= 500 && activity.Status != ActivityStatusCode.Error)
        {
            activity.SetTag("error.type", status.ToString(CultureInfo.InvariantCulture));
            activity.SetStatus(ActivityStatusCode.Error);
        }
    }

    private static object Boxed(int status) =>
        (uint)status < (uint)BoxedStatusCodes.Length ? BoxedStatusCodes[status] ??= status : status;

    /// <summary>HTTP/1.1 and HTTP/2 are Kestrel's constants: name their versions without cutting a new string each time.</summary>
    internal static string ProtocolVersion(string protocol) => protocol switch
    {
        "HTTP/1.1" => "1.1",
        "HTTP/2" => "2",
        "HTTP/3" => "3",
        "HTTP/1.0" => "1.0",
        _ when protocol.StartsWith("HTTP/", StringComparison.Ordinal) => protocol[5..],
        _ => protocol,
    };

    /// <summary>A service is mostly called by one Host header: keep the last one parsed (a race only parses again).</summary>
    private static HostNames Host(HostString host)
    {
        HostNames? last = Volatile.Read(ref lastHost);
        if (last is not null && string.Equals(last.Raw, host.Value, StringComparison.Ordinal))
        {
            return last;
        }

        var parsed = new HostNames(host.Value ?? "", host.Host, host.Port is { } port ? (object)port : null);
        Volatile.Write(ref lastHost, parsed);
        return parsed;
    }

    private sealed record HostNames(string Raw, string Address, object? Port);

    /// <summary>An endpoint's route with a leading slash, and its span name for the method it was last called with.</summary>
    private sealed class RouteNames(string rawText)
    {
        // One reference, so a reader never sees one method's name paired with another method.
        private SpanName? last;

        public string Route { get; } = rawText.StartsWith('/') ? rawText : "/" + rawText;

        public string DisplayName(string method)
        {
            SpanName? cached = Volatile.Read(ref last);
            if (cached is not null && string.Equals(cached.Method, method, StringComparison.Ordinal))
            {
                return cached.Name;
            }

            var name = new SpanName(method, $"{method} {Route}");
            Volatile.Write(ref last, name);
            return name.Name;
        }
    }

    private sealed record SpanName(string Method, string Name);
}
