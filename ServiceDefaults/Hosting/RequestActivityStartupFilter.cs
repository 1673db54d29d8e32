using System.Diagnostics;
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
/// </summary>
internal sealed class RequestActivityStartupFilter : IStartupFilter
{
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
            activity.SetTag("http.request.method", request.Method);
            activity.SetTag("url.scheme", request.Scheme);
            activity.SetTag("url.path", request.Path.Value);
            if (request.QueryString.HasValue)
            {
                activity.SetTag("url.query", request.QueryString.Value);
            }

            activity.SetTag("server.address", request.Host.Host);
            if (request.Host.Port is { } port)
            {
                activity.SetTag("server.port", port);
            }

            activity.SetTag("network.protocol.version", request.Protocol.StartsWith("HTTP/", StringComparison.Ordinal) ? request.Protocol[5..] : request.Protocol);
            if (request.Headers.UserAgent.Count > 0)
            {
                activity.SetTag("user_agent.original", request.Headers.UserAgent.ToString());
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
        activity.SetTag("http.response.status_code", status);
        string? route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
        if (route is not null)
        {
            string normalized = route.StartsWith('/') ? route : "/" + route;
            activity.SetTag("http.route", normalized);
            activity.DisplayName = $"{context.Request.Method} {normalized}";
        }
        else
        {
            activity.DisplayName = context.Request.Method;
        }

        // For a server span only 5xx is an error: a 404 is the server answering correctly.
        if (status >= 500 && activity.Status != ActivityStatusCode.Error)
        {
            activity.SetTag("error.type", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            activity.SetStatus(ActivityStatusCode.Error);
        }
    }
}
