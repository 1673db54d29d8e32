using System.Net;
using System.Net.Http.Json;
using Bazaar.Order.Api.Ordering;

namespace Bazaar.Worker.Catalog;

public sealed record StockLine(int ProductId, int Quantity);

/// <summary>A reservation as the catalog answers it.</summary>
public sealed record ReservationAnswer(string ReservationId, string State, string? Reason)
{
    public bool IsReserved => State == "Reserved";

    public bool IsCommitted => State == "Committed";
}

/// <summary>
/// The catalog's stock reservation endpoints, called with the worker's service token. Reserve, commit and release are
/// idempotent by reservation id on the catalog's side, so the saga may repeat any of them after a crash.
/// </summary>
public sealed class StockClient(HttpClient http)
{
    public const string HttpClientName = "Bazaar.Worker.Catalog";

    /// <summary>Reserves all lines or none. Transport failures and 5xx throw, so the saga step is retried.</summary>
    public async Task<ReservationAnswer> ReserveAsync(Guid orderId, IEnumerable<StockLine> lines, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var body = new
        {
            reservationId = OrderStateMachine.ReservationIdOf(orderId),
            orderId = orderId.ToString("N"),
            items = lines.Select(line => new { productId = line.ProductId, quantity = line.Quantity }),
            ttlSeconds = (int)Math.Clamp(ttl.TotalSeconds, 1, 86_400),
        };
        using HttpResponseMessage response = await http.PostAsJsonAsync("/api/catalog/stock/reservations", body, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, cancellationToken).ConfigureAwait(false)
               ?? throw new HttpRequestException($"Reserving stock answered {(int)response.StatusCode}.", null, response.StatusCode);
    }

    /// <summary>The held units become sold. Null when the catalog knows no such reservation.</summary>
    public Task<ReservationAnswer?> CommitAsync(Guid orderId, CancellationToken cancellationToken) => ChangeAsync(orderId, "commit", cancellationToken);

    /// <summary>The held units become available again. Null when there was nothing to release (never reserved).</summary>
    public Task<ReservationAnswer?> ReleaseAsync(Guid orderId, CancellationToken cancellationToken) => ChangeAsync(orderId, "release", cancellationToken);

    private async Task<ReservationAnswer?> ChangeAsync(Guid orderId, string change, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await http.PostAsync(
            $"/api/catalog/stock/reservations/{OrderStateMachine.ReservationIdOf(orderId)}/{change}", null, cancellationToken).ConfigureAwait(false);
        return response.StatusCode == HttpStatusCode.NotFound
            ? null
            : await ReadAsync(response, cancellationToken).ConfigureAwait(false)
              ?? throw new HttpRequestException($"The stock {change} answered {(int)response.StatusCode}.", null, response.StatusCode);
    }

    // 200 carries the reservation; 409 carries it as the problem's "reservation" member. Anything else is no answer.
    private static async Task<ReservationAnswer?> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode == HttpStatusCode.OK)
        {
            return await response.Content.ReadFromJsonAsync<ReservationAnswer>(cancellationToken).ConfigureAwait(false);
        }

        if (response.StatusCode == HttpStatusCode.Conflict)
        {
            ConflictAnswer? conflict = await response.Content.ReadFromJsonAsync<ConflictAnswer>(cancellationToken).ConfigureAwait(false);
            return conflict?.Reservation;
        }

        return null;
    }

    private sealed record ConflictAnswer(ReservationAnswer? Reservation);
}
