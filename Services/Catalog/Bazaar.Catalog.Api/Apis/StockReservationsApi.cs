using System.Text.RegularExpressions;
using Bazaar.Catalog.Api.Events;
using Bazaar.Catalog.Api.Stock;
using Microsoft.AspNetCore.Http.HttpResults;
using Bazaar.ServiceDefaults.Validation;

namespace Bazaar.Catalog.Api.Apis;

/// <summary>Stock reservations for the order saga: service-to-service (a service or admin token).</summary>
internal static partial class StockReservationsApi
{
    public const string Policy = "stock-reservations";
    public const int MaxLines = 100;
    public const int MaxQuantity = 10_000;
    public const int DefaultTtlSeconds = 900;
    public const int MaxTtlSeconds = 86_400;

    public static RouteGroupBuilder MapStockReservationsApi(this RouteGroupBuilder api)
    {
        RouteGroupBuilder stock = api.MapGroup("/stock/reservations").RequireAuthorization(Policy);
        stock.MapPost("/", ReserveAsync)
            .Accepts<ReserveStockRequest>("application/json")
            .WithName("ReserveStock").WithSummary("Reserve stock for an order")
            .WithDescription("Reserves every line or none. Idempotent by reservationId: a repeat gets the first answer. " +
                             "200 with state Reserved, or 409 with state Rejected and the reason. Released automatically when not committed within ttlSeconds.");
        stock.MapGet("/{id}", GetAsync)
            .WithName("GetStockReservation").WithSummary("Read a reservation").WithDescription("Its state, lines and expiry.");
        stock.MapPost("/{id}/commit", CommitAsync)
            .WithName("CommitStockReservation").WithSummary("Commit a reservation")
            .WithDescription("The held units are sold. Idempotent; 409 when the reservation was released, expired or rejected.");
        stock.MapPost("/{id}/release", ReleaseAsync)
            .WithName("ReleaseStockReservation").WithSummary("Release a reservation")
            .WithDescription("The held units are available again. Idempotent; 409 when the reservation was already committed.");
        return api;
    }

    public static async Task<Results<Ok<StockReservation>, ValidationProblem, ProblemHttpResult>> ReserveAsync(
        HttpRequest httpRequest,
        [AsParameters] CatalogServices services,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        ReserveStockRequest? body = await JsonBody.ReadAsync<ReserveStockRequest>(httpRequest, errors, cancellationToken);
        ValidReservation? request = body is null ? null : Validate(body, errors);
        if (request is null || errors.Any)
        {
            return CatalogProblems.Invalid(errors);
        }

        StockReservation reservation = await services.Stock.ReserveAsync(request, cancellationToken);
        return reservation.State == ReservationStates.Rejected ? Conflict(reservation) : TypedResults.Ok(reservation);
    }

    public static async Task<Results<Ok<StockReservation>, ValidationProblem, ProblemHttpResult>> GetAsync(
        string id, [AsParameters] CatalogServices services, CancellationToken cancellationToken)
    {
        if (!IsReservationId(id))
        {
            return CatalogProblems.Invalid("id", ReservationIdRule);
        }

        StockReservation? reservation = await services.Stock.GetAsync(id, cancellationToken);
        return reservation is null ? CatalogProblems.NotFound($"Reservation {id}") : TypedResults.Ok(reservation);
    }

    public static Task<Results<Ok<StockReservation>, ValidationProblem, ProblemHttpResult>> CommitAsync(
        string id, [AsParameters] CatalogServices services, CancellationToken cancellationToken) =>
        ChangeAsync(id, services.Stock.CommitAsync, cancellationToken);

    public static Task<Results<Ok<StockReservation>, ValidationProblem, ProblemHttpResult>> ReleaseAsync(
        string id, [AsParameters] CatalogServices services, CancellationToken cancellationToken) =>
        ChangeAsync(id, services.Stock.ReleaseAsync, cancellationToken);

    private static async Task<Results<Ok<StockReservation>, ValidationProblem, ProblemHttpResult>> ChangeAsync(
        string id, Func<string, CancellationToken, Task<ReservationResult>> change, CancellationToken cancellationToken)
    {
        if (!IsReservationId(id))
        {
            return CatalogProblems.Invalid("id", ReservationIdRule);
        }

        ReservationResult result = await change(id, cancellationToken);
        return result.Outcome switch
        {
            ReservationOutcome.Done => TypedResults.Ok(result.Reservation!),
            ReservationOutcome.Conflict => Conflict(result.Reservation!),
            _ => CatalogProblems.NotFound($"Reservation {id}"),
        };
    }

    private static ProblemHttpResult Conflict(StockReservation reservation) =>
        TypedResults.Problem(
            statusCode: StatusCodes.Status409Conflict,
            title: $"Reservation is {reservation.State}",
            detail: reservation.Reason ?? $"The reservation is {reservation.State}; that cannot change any more.",
            extensions: new Dictionary<string, object?> { ["reservation"] = reservation });

    private static ValidReservation? Validate(ReserveStockRequest body, ValidationErrors errors)
    {
        if (!IsReservationId(body.ReservationId))
        {
            errors.Add("reservationId", ReservationIdRule);
        }

        if (!IsReservationId(body.OrderId))
        {
            errors.Add("orderId", ReservationIdRule);
        }

        int ttlSeconds = errors.Required("ttlSeconds", body.TtlSeconds ?? DefaultTtlSeconds, 1, MaxTtlSeconds);
        if (body.Items is not { Count: > 0 and <= MaxLines })
        {
            errors.Add("items", $"Give between 1 and {MaxLines} lines.");
            return null;
        }

        var lines = new List<ReservationLine>(body.Items.Count);
        for (int i = 0; i < body.Items.Count; i++)
        {
            ReserveStockItem? item = body.Items[i];
            string prefix = $"items[{i}].";
            if (item is null)
            {
                errors.Add($"items[{i}]", "Is required.");
                continue;
            }

            int productId = errors.Required(prefix + "productId", item.ProductId, 1, int.MaxValue);
            int quantity = errors.Required(prefix + "quantity", item.Quantity, 1, MaxQuantity);
            if (lines.Any(line => line.ProductId == productId))
            {
                errors.Add(prefix + "productId", "Each product may appear once; add the quantities together.");
            }

            lines.Add(new ReservationLine(productId, quantity));
        }

        return errors.Any ? null : new ValidReservation(body.ReservationId!, body.OrderId!, lines, TimeSpan.FromSeconds(ttlSeconds));
    }

    private const string ReservationIdRule = "Must be 1 to 64 letters, digits, '-', '_', ':' or '.'.";

    private static bool IsReservationId(string? value) => value is not null && ReservationIdPattern().IsMatch(value);

    [GeneratedRegex("^[A-Za-z0-9_:.-]{1,64}$")]
    private static partial Regex ReservationIdPattern();
}
