using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Ordering;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Bazaar.Order.Api.Streaming;

/// <summary>
/// <c>GET /api/orders/{id}/events</c>: the order's status changes as Server-Sent Events. Each event is one history entry
/// (<c>event: status</c>, <c>id:</c> its sequence number, <c>data:</c> JSON); a reconnect with Last-Event-ID resumes after
/// that entry; a comment line every heartbeat interval keeps proxies from closing an idle stream; the stream ends once the
/// order has reached a state the saga no longer changes.
/// </summary>
internal static class OrderEventsApi
{
    private static readonly byte[] Heartbeat = ": heartbeat\n\n"u8.ToArray();

    public static RouteGroupBuilder MapOrderEventsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/{id}/events", StreamAsync).RequireAuthorization()
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .WithName("StreamOrderEvents").WithSummary("Stream an order's status changes (SSE)")
            .WithDescription("Server-Sent Events: event 'status', id = sequence number, data = { seq, status, reason, occurredAt }. " +
                             "Send Last-Event-ID (or ?lastEventId=) to resume. Heartbeat comments keep it open; it closes after a final state.");
        return api;
    }

    public static async Task<IResult> StreamAsync(
        string id,
        HttpContext http,
        ClaimsPrincipal user,
        OrderReads reads,
        OrderStatusHub hub,
        IOptions<OrderStreamOptions> options,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (!OrdersApi.TryParseId(id, out Guid orderId))
        {
            return OrdersApi.NotFound(id);
        }

        OrderRow? order = await reads.GetRowAsync(orderId, cancellationToken);
        if (order is null || !OrdersApi.MaySee(user, order.UserId))
        {
            return OrdersApi.NotFound(id);
        }

        string? resumeFrom = http.Request.Headers["Last-Event-ID"].FirstOrDefault() ?? http.Request.Query["lastEventId"].FirstOrDefault();
        int last = int.TryParse(resumeFrom, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) ? parsed : 0;

        // Watch before the first read, so a change between the read and the wait still wakes the stream.
        using OrderStatusHub.Watcher watcher = hub.Watch(orderId);
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        HttpResponse response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.Body.WriteAsync("retry: 2000\n\n"u8.ToArray(), cancellationToken);
        await response.Body.FlushAsync(cancellationToken);

        OrderStreamOptions settings = options.Value;
        DateTimeOffset nextHeartbeat = time.GetUtcNow() + settings.HeartbeatInterval;
        bool closed = OrderStateMachine.ClosesStream(order.CurrentStatus) && order.Seq <= last;
        try
        {
            while (!closed && !cancellationToken.IsCancellationRequested)
            {
                IReadOnlyList<OrderHistoryRow> entries = await reads.HistoryAsync(orderId, last, cancellationToken);
                foreach (OrderHistoryRow row in entries)
                {
                    OrderStatusEntry entry = OrderStatusEntry.From(row);
                    await WriteEventAsync(response, entry, cancellationToken);
                    last = entry.Seq;
                    closed = OrderStateMachine.ClosesStream(entry.Status);
                }

                if (entries.Count > 0)
                {
                    await response.Body.FlushAsync(cancellationToken);
                }

                if (closed)
                {
                    break;
                }

                DateTimeOffset now = time.GetUtcNow();
                if (now >= nextHeartbeat)
                {
                    await response.Body.WriteAsync(Heartbeat, cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    nextHeartbeat = now + settings.HeartbeatInterval;
                }

                TimeSpan untilHeartbeat = nextHeartbeat - now;
                await watcher.WaitAsync(untilHeartbeat < settings.PollInterval ? untilHeartbeat : settings.PollInterval, time, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }

        return Results.Empty;
    }

    private static async Task WriteEventAsync(HttpResponse response, OrderStatusEntry entry, CancellationToken cancellationToken)
    {
        string data = JsonSerializer.Serialize(entry, JsonSerializerOptions.Web);
        string frame = string.Create(CultureInfo.InvariantCulture, $"id: {entry.Seq}\nevent: status\ndata: {data}\n\n");
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(frame), cancellationToken);
    }
}
