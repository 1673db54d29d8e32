using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Bazaar.IntegrationTests.Auth;
using Bazaar.Messaging;
using Bazaar.Order.Api;
using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Ordering;
using Bazaar.Testing;
using Dapper;
using static Bazaar.IntegrationTests.Order.OrderSystem;

namespace Bazaar.IntegrationTests.Order;

/// <summary>The SSE status stream: every status in order, resumable by Last-Event-ID, heartbeats while quiet, closed after a final state, fed across replicas.</summary>
[Collection(OrderSystemCollection.Name)]
public sealed class OrderEventsStreamTests : IAsyncLifetime
{
    private OrderSystem _system = null!;

    // Polling is slowed to 30 s here, so only the Redis fan-out can make a stream see a change within the deadlines below.
    public async Task InitializeAsync() => _system = await OrderSystem.StartAsync(adjustOrders: settings => settings["Orders:Stream:PollInterval"] = "00:00:30");

    public async Task DisposeAsync() => await _system.DisposeAsync();

    [Fact]
    public async Task The_stream_delivers_every_status_in_order_and_closes_after_the_final_one()
    {
        int product = await _system.CreateProductAsync(stock: 5);
        using HttpClient buyer = _system.CustomerClient("sse-buyer");
        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product, paymentMethod: "test-timeout"));

        IReadOnlyList<SseEvent> events = await ReadStreamAsync(buyer, accepted.EventsUrl, lastEventId: null, TimeSpan.FromSeconds(20));

        Assert.Equal(["1", "2", "3"], events.Select(e => e.Id));
        Assert.All(events, e => Assert.Equal("status", e.Event));
        Assert.Equal([OrderStatus.Submitted, OrderStatus.StockReserved, OrderStatus.Cancelled], events.Select(e => e.Status));
    }

    [Fact]
    public async Task A_reconnect_with_Last_Event_ID_resumes_after_that_event()
    {
        int product = await _system.CreateProductAsync(stock: 5);
        using HttpClient buyer = _system.CustomerClient("sse-resumer");
        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product));
        await WaitForStatusAsync(buyer, accepted.OrderId, OrderStatus.Paid);

        IReadOnlyList<SseEvent> resumed = await ReadStreamAsync(buyer, accepted.EventsUrl, lastEventId: "1", TimeSpan.FromSeconds(10));
        IReadOnlyList<SseEvent> caughtUp = await ReadStreamAsync(buyer, accepted.EventsUrl, lastEventId: "3", TimeSpan.FromSeconds(10));

        Assert.Equal([OrderStatus.StockReserved, OrderStatus.Paid], resumed.Select(e => e.Status));
        Assert.Equal(["2", "3"], resumed.Select(e => e.Id));
        Assert.Empty(caughtUp);
    }

    [Fact]
    public async Task A_stream_on_another_replica_hears_the_changes_at_once()
    {
        int product = await _system.CreateProductAsync(stock: 5);
        using HttpClient buyer = _system.CustomerClient("sse-replicas");
        await using ServiceHost<OrderApiEntryPoint> replica = _system.StartOrderReplica();
        using HttpClient onReplica = replica.CreateClient(TestTokens.Customer("sse-replicas"));
        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product, paymentMethod: "test-timeout"));

        var clock = Stopwatch.StartNew();
        IReadOnlyList<SseEvent> events = await ReadStreamAsync(onReplica, accepted.EventsUrl, lastEventId: null, TimeSpan.FromSeconds(15));

        Assert.Equal([OrderStatus.Submitted, OrderStatus.StockReserved, OrderStatus.Cancelled], events.Select(e => e.Status));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"The stream took {clock.Elapsed}; without the fan-out it would wait for the 30 s poll.");
    }

    [Fact]
    public async Task Nobody_but_the_owner_or_an_admin_may_watch_an_order()
    {
        int product = await _system.CreateProductAsync(stock: 5);
        using HttpClient buyer = _system.CustomerClient("sse-owner");
        using HttpClient stranger = _system.CustomerClient("sse-stranger");
        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product));

        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync(accepted.EventsUrl)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await buyer.GetAsync("/api/orders/not-an-order/events")).StatusCode);
    }

    [Fact]
    public async Task A_quiet_stream_gets_a_heartbeat_comment_every_interval_until_the_next_status()
    {
        int product = await _system.CreateProductAsync(stock: 5);
        await using ServiceHost<OrderApiEntryPoint> replica = _system.StartOrderReplica(settings => settings["Orders:Stream:HeartbeatInterval"] = "00:00:00.250");
        using HttpClient buyer = replica.CreateClient(TestTokens.Customer("sse-heartbeat"));
        // test-timeout: the order rests in StockReserved until the worker's payment timeout (2 s here) cancels it.
        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product, paymentMethod: "test-timeout"));

        IReadOnlyList<string> lines = await ReadLinesAsync(buyer, accepted.EventsUrl, lastEventId: null, TimeSpan.FromSeconds(20));

        Assert.Equal([OrderStatus.Submitted, OrderStatus.StockReserved, OrderStatus.Cancelled], ParseEvents(lines).Select(e => e.Status));
        int reserved = lines.ToList().FindIndex(line => line.StartsWith("data: ", StringComparison.Ordinal) && line.Contains("StockReserved", StringComparison.Ordinal));
        int cancelled = lines.ToList().FindIndex(line => line.StartsWith("data: ", StringComparison.Ordinal) && line.Contains("Cancelled", StringComparison.Ordinal));
        int heartbeats = lines.Skip(reserved).Take(cancelled - reserved).Count(line => line == ": heartbeat");
        Assert.True(heartbeats >= 2, $"Expected heartbeats while the order rested in StockReserved; the stream was:\n{string.Join("\n", lines)}");
    }

    [Fact]
    public async Task A_stream_that_hears_no_hints_still_gets_every_status_by_reading_again_on_each_heartbeat()
    {
        int product = await _system.CreateProductAsync(stock: 5);
        // A replica listening on a channel nobody publishes to loses every hint; its polls are 30 s apart.
        await using ServiceHost<OrderApiEntryPoint> deaf = _system.StartOrderReplica(settings =>
        {
            settings["Orders:Stream:Channel"] = TestServers.UniqueName("nobody-publishes-here");
            settings["Orders:Stream:HeartbeatInterval"] = "00:00:00.300";
        });
        using HttpClient buyer = deaf.CreateClient(TestTokens.Customer("sse-deaf"));
        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product, paymentMethod: "test-timeout"));

        IReadOnlyList<SseEvent> events = await ReadStreamAsync(buyer, accepted.EventsUrl, lastEventId: null, TimeSpan.FromSeconds(15));

        Assert.Equal([OrderStatus.Submitted, OrderStatus.StockReserved, OrderStatus.Cancelled], events.Select(e => e.Status));
    }

    [Fact]
    public async Task The_sagas_moves_reach_the_streams_without_a_status_event_through_the_outbox()
    {
        int product = await _system.CreateProductAsync(stock: 5);
        using HttpClient buyer = _system.CustomerClient("sse-no-outbox");
        await using ServiceHost<OrderApiEntryPoint> replica = _system.StartOrderReplica();
        using HttpClient onReplica = replica.CreateClient(TestTokens.Customer("sse-no-outbox"));
        OrderAccepted accepted = await PlaceAcceptedAsync(buyer, OrderBody(product));

        IReadOnlyList<SseEvent> events = await ReadStreamAsync(onReplica, accepted.EventsUrl, lastEventId: null, TimeSpan.FromSeconds(15));

        Assert.Equal([OrderStatus.Submitted, OrderStatus.StockReserved, OrderStatus.Paid], events.Select(e => e.Status));
        await using DbConnection connection = await _system.OrderDatabase.OpenConnectionAsync();
        IEnumerable<string> bodies = await connection.QueryAsync<string>(
            "SELECT body FROM outbox WHERE event_type = 'order.status-changed' AND body LIKE @order", new { order = $"%{accepted.OrderId}%" });
        // Placement may still announce the first status (seq 1) through the outbox; the saga's moves never do.
        Assert.All(bodies, body => Assert.Equal(1, EventEnvelope.FromUtf8Bytes(Encoding.UTF8.GetBytes(body)).GetPayload<OrderStatusChanged>().Seq));
    }

    internal sealed record SseEvent(string? Id, string? Event, string Data)
    {
        public OrderStatus Status => JsonSerializer.Deserialize<OrderStatusEntry>(Data, JsonSerializerOptions.Web)!.Status;
    }

    /// <summary>Reads the stream until the server closes it (or fails after <paramref name="deadline"/>).</summary>
    internal static async Task<IReadOnlyList<SseEvent>> ReadStreamAsync(HttpClient client, string url, string? lastEventId, TimeSpan deadline) =>
        ParseEvents(await ReadLinesAsync(client, url, lastEventId, deadline));

    /// <summary>Every line the server sent, comments included, until it closed the stream.</summary>
    internal static async Task<IReadOnlyList<string>> ReadLinesAsync(HttpClient client, string url, string? lastEventId, TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var lines = new List<string>();
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>The events in <paramref name="lines"/>; comments (heartbeats) and the retry field are not events.</summary>
    internal static IReadOnlyList<SseEvent> ParseEvents(IEnumerable<string> lines)
    {
        var events = new List<SseEvent>();
        string? id = null, name = null, data = null;
        foreach (string line in lines)
        {
            if (line.Length == 0)
            {
                if (data is not null)
                {
                    events.Add(new SseEvent(id, name, data));
                }

                id = name = data = null;
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line[4..];
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line[6..];
            }
        }

        return events;
    }
}
