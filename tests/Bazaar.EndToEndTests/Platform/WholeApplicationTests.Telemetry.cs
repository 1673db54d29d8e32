using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting.ApplicationModel;

namespace Bazaar.EndToEndTests.Platform;

/// <summary>Issue 7 through the whole model: the services' spans meet in the Aspire dashboard as one trace.</summary>
public sealed partial class WholeApplicationTests
{
    private static readonly TimeSpan TraceDeadline = TimeSpan.FromSeconds(90);
    private static readonly string[] TraceResources = ["order-api", "worker", "catalog-api"];

    /// <summary>
    /// The test calls order-api as the parent of a trace it names (W3C traceparent); ASP.NET Core continues it, the outbox
    /// carries it to the worker, and the worker's reservation and commit calls carry it to catalog-api. Every service
    /// exports OTLP to the dashboard the AppHost starts; the test reads the trace back through the dashboard's telemetry
    /// HTTP API (GET /api/telemetry/traces/{traceId}, header x-api-key) and polls until every span's parent has arrived,
    /// since each process sends its spans in its own batches.
    /// </summary>
    private async Task One_trace_spans_the_POST_the_saga_steps_in_the_worker_and_the_catalog_calls(BazaarAppHost host)
    {
        string customer = await _shop.RegisterAndLoginAsync();
        string traceId = ActivityTraceId.CreateRandom().ToHexString();
        string callerSpanId = ActivitySpanId.CreateRandom().ToHexString();
        string orderId = await _shop.PlaceOrderAsync(customer, productId: 1, traceparent: $"00-{traceId}-{callerSpanId}-01");
        await _shop.WaitForOrderStatusAsync(orderId, customer, "Paid");

        Assert.True(host.App.ResourceNotifications.TryGetCurrentState("worker", out ResourceEvent? worker));
        output.WriteLine("The worker exports to " + string.Join(", ", worker!.Snapshot.EnvironmentVariables
            .Where(v => v.Name is "OTEL_EXPORTER_OTLP_ENDPOINT" or "OTEL_EXPORTER_OTLP_PROTOCOL").Select(v => $"{v.Name}={v.Value}")));
        using (var anonymous = new HttpRequestMessage(HttpMethod.Get, new Uri(host.DashboardUrl, "/api/telemetry/resources")))
        using (HttpResponseMessage refused = await _http.SendAsync(anonymous))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        var traceUri = new Uri(host.DashboardUrl, $"/api/telemetry/traces/{traceId}");
        string apiKey = host.DashboardApiKey;
        List<Span> spans = [];
        string missing = "";
        await PollAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, traceUri);
            request.Headers.Add("x-api-key", apiKey);
            using HttpResponseMessage response = await _http.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                missing = "no span of the trace is stored yet";
                return false;
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            spans = Span.ListFrom(await response.Content.ReadFromJsonAsync<JsonElement>());
            missing = WhatTheTraceLacks(spans, callerSpanId);
            return missing.Length == 0;
        }, TraceDeadline, () => $"trace {traceId} of order {orderId} is whole; it lacks {missing}. Spans: {Describe(spans)}");

        output.WriteLine($"Trace {traceId}: {spans.Count} spans; {Describe(spans)}");
        Span post = Assert.Single(spans, s => s.ParentSpanId == callerSpanId);
        Assert.Equal("order-api", post.Resource);
        Assert.Equal(SpanKind.Server, post.Kind);
        Assert.Contains(spans, s => s.Resource == "worker" && s.Kind == SpanKind.Consumer);
        Assert.Contains(spans, s => s.Resource == "worker" && s.Kind == SpanKind.Client && spans.Any(c => c.Resource == "catalog-api" && c.ParentSpanId == s.SpanId));
    }

    /// <summary>What keeps the trace from being whole: a resource with no span yet, or a span whose parent has not arrived.</summary>
    private static string WhatTheTraceLacks(List<Span> spans, string callerSpanId)
    {
        IEnumerable<string> lacking = TraceResources.Where(resource => spans.All(s => s.Resource != resource)).Select(resource => "spans from " + resource);
        HashSet<string> ids = spans.Select(s => s.SpanId).ToHashSet();
        IEnumerable<string> orphans = spans
            .Where(s => s.ParentSpanId.Length > 0 && s.ParentSpanId != callerSpanId && !ids.Contains(s.ParentSpanId))
            .Select(s => $"the parent {s.ParentSpanId} of {s.Resource} '{s.Name}'");
        // Each process sends its spans in its own batches: the catalog's side of the worker's call can come last.
        IEnumerable<string> unanswered = spans.Any(s => s.Resource == "worker" && s.Kind == SpanKind.Client && spans.Any(c => c.Resource == "catalog-api" && c.ParentSpanId == s.SpanId))
            ? []
            : ["catalog-api's span under a call of the worker"];
        return string.Join("; ", lacking.Concat(orphans).Concat(unanswered));
    }

    private static string Describe(List<Span> spans) =>
        string.Join(", ", spans.GroupBy(s => s.Instance).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()} ({string.Join(" | ", g.Select(s => s.Name).Distinct().Take(8))})"));

    /// <summary>OTLP's span kinds, as numbers in OTLP-JSON.</summary>
    private enum SpanKind
    {
        Unspecified = 0,
        Internal = 1,
        Server = 2,
        Client = 3,
        Producer = 4,
        Consumer = 5,
    }

    /// <summary>
    /// The fields of a span this test reads from the dashboard's OTLP-JSON answer
    /// (<c>{"data":{"resourceSpans":[{"resource":{"attributes":[…]},"scopeSpans":[{"spans":[…]}]}]}}</c>): the resource
    /// is the service.name attribute, the instance service.name-service.instance.id.
    /// </summary>
    private sealed record Span(string SpanId, string ParentSpanId, string Resource, string Instance, string Name, SpanKind Kind)
    {
        public static List<Span> ListFrom(JsonElement answer)
        {
            var spans = new List<Span>();
            foreach (JsonElement resourceSpans in answer.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
            {
                Dictionary<string, string> attributes = resourceSpans.GetProperty("resource").GetProperty("attributes").EnumerateArray()
                    .ToDictionary(a => a.GetProperty("key").GetString()!, a => a.GetProperty("value").TryGetProperty("stringValue", out JsonElement v) ? v.GetString()! : a.GetProperty("value").ToString());
                string resource = attributes.GetValueOrDefault("service.name", "?");
                string instance = $"{resource}-{attributes.GetValueOrDefault("service.instance.id", "?")}";
                foreach (JsonElement scope in resourceSpans.GetProperty("scopeSpans").EnumerateArray())
                {
                    spans.AddRange(scope.GetProperty("spans").EnumerateArray().Select(s => new Span(
                        s.GetProperty("spanId").GetString()!,
                        s.TryGetProperty("parentSpanId", out JsonElement parent) ? parent.GetString() ?? "" : "",
                        resource,
                        instance,
                        s.GetProperty("name").GetString()!,
                        s.TryGetProperty("kind", out JsonElement kind) ? (SpanKind)kind.GetInt32() : SpanKind.Unspecified)));
                }
            }

            return spans;
        }
    }
}
