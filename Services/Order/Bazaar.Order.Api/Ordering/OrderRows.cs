namespace Bazaar.Order.Api.Ordering;

/// <summary>An order's row as stored (no lines, no history).</summary>
public sealed record OrderRow
{
    public required string Id { get; init; }
    public required string UserId { get; init; }
    public required string IdempotencyKey { get; init; }
    public required string RequestHash { get; init; }
    public required string Status { get; init; }
    public string? StatusReason { get; init; }
    public required int Seq { get; init; }
    public required decimal Total { get; init; }
    public required string ShippingAddress { get; init; }
    public required string PaymentMethod { get; init; }
    public string? CallbackUrl { get; init; }
    public required DateTime CreatedAt { get; init; }
    public required DateTime StatusChangedAt { get; init; }

    public Guid OrderId => Guid.ParseExact(Id, "N");

    public OrderStatus CurrentStatus => Enum.Parse<OrderStatus>(Status);
}

public sealed record OrderItemRow(int ProductId, string ProductName, decimal UnitPrice, int Quantity);

public sealed record OrderHistoryRow(int Seq, string Status, string? Reason, DateTime OccurredAt);

/// <summary>One entry of an order's history, as the API and the status stream show it.</summary>
public sealed record OrderStatusEntry(int Seq, OrderStatus Status, string? Reason, DateTimeOffset OccurredAt)
{
    public static OrderStatusEntry From(OrderHistoryRow row) =>
        new(row.Seq, Enum.Parse<OrderStatus>(row.Status), row.Reason, OrderTime.Utc(row.OccurredAt));
}

/// <summary>The outcome of asking an order to move.</summary>
public sealed record TransitionResult(TransitionOutcome Outcome, OrderRow? Order, OrderStatus? From)
{
    public static TransitionResult NotFound { get; } = new(TransitionOutcome.NotFound, null, null);
}

public enum TransitionOutcome
{
    Moved,
    NotFound,
    Illegal,
}

internal static class OrderTime
{
    public static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
