using System.Text.Json;
using Bazaar.Data;
using Bazaar.Messaging;
using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Ordering;
using MySqlConnector;

namespace Bazaar.Order.Api.Placement;

internal abstract record PlacementResult
{
    /// <summary>The order exists (made now, or by an earlier request with the same key and body).</summary>
    public sealed record Accepted(Guid OrderId, OrderStatus Status, bool Repeat) : PlacementResult;

    public sealed record KeyReused : PlacementResult;

    public sealed record UnknownProducts(IReadOnlyList<int> ProductIds) : PlacementResult;
}

/// <summary>
/// Places an order: prices from the catalog, then the order, its lines, its first history entry and its
/// <see cref="OrderSubmitted"/> event in one transaction, shared with the other orders placed at the same
/// moment (<see cref="PlacementWriter"/>). The unique (user, Idempotency-Key) index decides races: the second of two
/// concurrent inserts waits on the first's key and then fails with a duplicate (in a group, the group is split and only
/// that order fails), and is answered from the first row, so no check-then-insert window exists.
/// </summary>
internal sealed partial class OrderPlacement(
    MySqlDataSource database, CatalogPrices catalog, PlacementWriter writer, PlacementPace pace, TimeProvider time, ILogger<OrderPlacement> logger)
{
    private static readonly SqlStatement SelectByKey = new("orders.select_by_key", """
        SELECT id AS Id, status AS Status, request_hash AS RequestHash FROM orders WHERE user_id = @userId AND idempotency_key = @key
        """);

    public async Task<PlacementResult> PlaceAsync(string userId, string idempotencyKey, ValidOrderRequest request, CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<int, CatalogProduct> products = await catalog.GetAsync(request.Lines.Select(line => line.ProductId).ToList(), cancellationToken);
        int[] unknown = request.Lines.Where(line => !products.ContainsKey(line.ProductId)).Select(line => line.ProductId).ToArray();
        if (unknown.Length > 0)
        {
            return new PlacementResult.UnknownProducts(unknown);
        }

        List<OrderLine> lines = request.Lines
            .Select(line => new OrderLine(line.ProductId, products[line.ProductId].Name, products[line.ProductId].Price, line.Quantity))
            .ToList();
        Guid orderId = Guid.CreateVersion7();
        DateTime now = time.GetUtcNow().UtcDateTime;
        string hash = request.Hash();
        var order = new OrderRow
        {
            Id = OrderLedger.Key(orderId),
            UserId = userId,
            IdempotencyKey = idempotencyKey,
            RequestHash = hash,
            Status = nameof(OrderStatus.Submitted),
            Seq = 1,
            Total = lines.Sum(line => line.UnitPrice * line.Quantity),
            ShippingAddress = JsonSerializer.Serialize(request.ShippingAddress, JsonSerializerOptions.Web),
            PaymentMethod = request.PaymentMethod,
            CallbackUrl = request.CallbackUrl,
            CreatedAt = now,
            StatusChangedAt = now,
        };

        // Captured here, in the request: the group is written by a loop outside it, and the event must continue this trace.
        // No status announcement goes with it: a status stream can only be opened once the 202 names the order, and it
        // reads the history (Submitted, seq 1) from MySQL when it opens, so an announcement of seq 1 would wake nobody.
        var work = new PlacementWork(order, lines,
            OutboxEntry.Capture(new OrderSubmitted(orderId, userId, lines, order.Total, order.PaymentMethod), order.Id, time));
        try
        {
            await writer.WriteAsync(work, cancellationToken);
        }
        catch (Exception exception) when (TransientErrors.IsUniqueViolation(exception))
        {
            return await AnswerRepeatAsync(userId, idempotencyKey, hash, cancellationToken);
        }

        pace.Placed();
        LogPlaced(logger, orderId, lines.Count, order.Total);
        return new PlacementResult.Accepted(orderId, OrderStatus.Submitted, Repeat: false);
    }

    private async Task<PlacementResult> AnswerRepeatAsync(string userId, string key, string hash, CancellationToken cancellationToken)
    {
        ExistingOrder? first = await database.WithConnectionAsync(
            (connection, token) => connection.QuerySingleOrDefaultAsync<ExistingOrder>(SelectByKey, new { userId, key }, cancellationToken: token),
            cancellationToken);
        if (first is null)
        {
            // The key was taken by a transaction that then rolled back; only a repeat of the request can tell.
            throw new InvalidOperationException("The Idempotency-Key collided but no order holds it.");
        }

        if (!string.Equals(first.RequestHash, hash, StringComparison.Ordinal))
        {
            return new PlacementResult.KeyReused();
        }

        return new PlacementResult.Accepted(Guid.ParseExact(first.Id, "N"), Enum.Parse<OrderStatus>(first.Status), Repeat: true);
    }

    private sealed record ExistingOrder(string Id, string Status, string RequestHash);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Order {OrderId} placed with {Lines} line(s), total {Total}")]
    private static partial void LogPlaced(ILogger logger, Guid orderId, int lines, decimal total);
}
