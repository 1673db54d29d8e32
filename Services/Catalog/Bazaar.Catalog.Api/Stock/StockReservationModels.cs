using Bazaar.Catalog.Api.Events;

namespace Bazaar.Catalog.Api.Stock;

public sealed record ReserveStockRequest(string? ReservationId, string? OrderId, IReadOnlyList<ReserveStockItem?>? Items, int? TtlSeconds);

public sealed record ReserveStockItem(int? ProductId, int? Quantity);

/// <summary>A reservation as the order saga sees it; a rejected one lists what was short.</summary>
public sealed record StockReservation(
    string ReservationId,
    string OrderId,
    string State,
    DateTimeOffset ExpiresAt,
    IReadOnlyList<StockReservationLine> Items,
    string? Reason);

public sealed record StockReservationLine(int ProductId, int Quantity);

public static class ReservationStates
{
    public const string Reserved = "Reserved";
    public const string Rejected = "Rejected";
    public const string Committed = "Committed";
    public const string Released = "Released";
    public const string Expired = "Expired";
}

internal sealed record ValidReservation(string ReservationId, string OrderId, IReadOnlyList<ReservationLine> Items, TimeSpan Ttl);

internal enum ReservationOutcome
{
    Done,
    NotFound,
    Conflict,
}

internal sealed record ReservationResult(ReservationOutcome Outcome, StockReservation? Reservation)
{
    public static ReservationResult NotFound { get; } = new(ReservationOutcome.NotFound, null);

    public static ReservationResult Done(StockReservation reservation) => new(ReservationOutcome.Done, reservation);

    public static ReservationResult Conflict(StockReservation reservation) => new(ReservationOutcome.Conflict, reservation);
}
