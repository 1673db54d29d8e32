using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bazaar.Dashboard;
using Bazaar.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Bazaar.EndToEndTests.Platform;

/// <summary>Issue 7 through the whole model: the services' spans meet in the dashboard as one trace, kept across restarts.</summary>
public sealed partial class WholeApplicationTests
{
    private static readonly TimeSpan TraceDeadline = TimeSpan.FromSeconds(60);
    private static readonly string[] TraceResources = ["order-api", "worker", "catalog-api"];

    /// <summary>
    /// The test calls order-api as the parent of a trace it names (W3C traceparent); ASP.NET Core continues it, the outbox
    /// carries it to the worker, and the worker's reservation and commit calls carry it to catalog-api. Spans arrive at
    /// the dashboard in each process's own batches, so the check polls until every span's parent has arrived too.
    /// </summary>
    private async Task<string> One_trace_spans_the_POST_the_saga_steps_in_the_worker_and_the_catalog_calls(
        DistributedApplication app, ResourceNotificationService notifications)
    {
        string customer = await RegisterAndLoginAsync(notifications);
        string traceId = ActivityTraceId.CreateRandom().ToHexString();
        string callerSpanId = ActivitySpanId.CreateRandom().ToHexString();
        string orderId = await PlaceOrderAsync(_http, notifications, customer, productId: 1, traceparent: $"00-{traceId}-{callerSpanId}-01");
        await WaitForOrderStatusAsync(notifications, orderId, customer, "Paid");

        var traceUri = new Uri(new Uri(app.DashboardUrl!), $"/api/traces/{traceId}");
        List<Span> spans = [];
        string missing = "";
        await PollAsync(async () =>
        {
            using HttpResponseMessage response = await _http.GetAsync(traceUri);
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
        Assert.Equal("Server", post.Kind);
        Assert.Contains(spans, s => s.Resource == "worker" && s.Kind == "Consumer");
        Assert.Contains(spans, s => s.Resource == "worker" && s.Kind == "Client" && spans.Any(c => c.Resource == "catalog-api" && c.ParentSpanId == s.SpanId));
        return traceId;
    }

    /// <summary>What keeps the trace from being whole: a resource with no span yet, or a span whose parent has not arrived.</summary>
    private static string WhatTheTraceLacks(List<Span> spans, string callerSpanId)
    {
        IEnumerable<string> lacking = TraceResources.Where(resource => spans.All(s => s.Resource != resource)).Select(resource => "spans from " + resource);
        HashSet<string> ids = spans.Select(s => s.SpanId).ToHashSet();
        IEnumerable<string> orphans = spans
            .Where(s => s.ParentSpanId.Length > 0 && s.ParentSpanId != callerSpanId && !ids.Contains(s.ParentSpanId))
            .Select(s => $"the parent {s.ParentSpanId} of {s.Resource} '{s.Name}'");
        return string.Join("; ", lacking.Concat(orphans));
    }

    private static string Describe(List<Span> spans) =>
        string.Join(", ", spans.GroupBy(s => s.Instance).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()} ({string.Join(" | ", g.Select(s => s.Name).Distinct().Take(8))})"));

    /// <summary>
    /// Issue 7's "restart the AppHost: earlier traces are still listed". The dashboard alone suffices: it reads the SQLite
    /// store in the data directory, and starting the whole model again would double this project's time.
    /// </summary>
    private async Task An_AppHost_started_again_on_the_same_data_directory_still_lists_the_trace(string traceId, ConcurrentDictionary<int, string> pidsSeen)
    {
        IDistributedApplicationBuilder builder = CreateBuilder();
        builder.AddDashboard();
        await using DistributedApplication app = builder.Build();
        ResourceNotificationService notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        using var watching = new CancellationTokenSource();
        Task watch = RecordPidsAsync(notifications, pidsSeen, watching.Token);
        try
        {
            await app.StartAsync();
            var dashboard = new Uri(app.DashboardUrl!);

            using HttpResponseMessage trace = await _http.GetAsync(new Uri(dashboard, $"/api/traces/{traceId}"));
            Assert.Equal(HttpStatusCode.OK, trace.StatusCode);
            List<Span> spans = Span.ListFrom(await trace.Content.ReadFromJsonAsync<JsonElement>());
            Assert.All(TraceResources, resource => Assert.Contains(spans, s => s.Resource == resource));

            using JsonDocument listed = JsonDocument.Parse(await _http.GetStringAsync(new Uri(dashboard, "/api/traces?resource=worker&limit=1000")));
            Assert.Contains(traceId, listed.RootElement.EnumerateArray().Select(t => t.GetProperty("traceId").GetString()));
        }
        finally
        {
            await app.StopAsync();
            await watching.CancelAsync();
            await watch.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>The fields of a span in the dashboard's GET /api/traces/{traceId} this test reads.</summary>
    private sealed record Span(string SpanId, string ParentSpanId, string Resource, string Instance, string Name, string Kind)
    {
        public static List<Span> ListFrom(JsonElement trace) => trace.GetProperty("spans").EnumerateArray().Select(s => new Span(
            s.GetProperty("spanId").GetString()!,
            s.GetProperty("parentSpanId").GetString()!,
            s.GetProperty("resource").GetString()!,
            s.GetProperty("instance").GetString()!,
            s.GetProperty("name").GetString()!,
            s.GetProperty("kind").GetString()!)).ToList();
    }
}
