using System.Security.Claims;
using System.Text.Json;
using Bazaar.Data;
using Bazaar.Order.Api.Ordering;
using Bazaar.Order.Api.Placement;
using Bazaar.ServiceDefaults.Authentication;
using Bazaar.ServiceDefaults.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Bazaar.ServiceDefaults.Validation;
using MySqlConnector;

namespace Bazaar.Order.Api.Apis;

/// <summary>What the order endpoints need, as one parameter.</summary>
internal sealed record OrderServices(OrderReads Reads, OrderLedger Ledger, MySqlDataSource Database);

/// <summary>Orders: placement (idempotent), reads, and the customer's and admin's moves.</summary>
internal static class OrdersApi
{
    public const int MaxPageSize = 100;

    public static RouteGroupBuilder MapOrdersApi(this RouteGroupBuilder api)
    {
        api.MapPost("/", PlaceAsync)
            .RequireAuthorization(AuthenticationConventions.Policies.Customer)
            .AddEndpointFilterFactory(static (context, next) =>
            {
                // One limiter for the endpoint's life (AddEndpointFilter<T> would build a new one, with empty buckets, per request).
                PlacementLimiter limiter = context.ApplicationServices.GetRequiredService<PlacementLimiter>();
                return invocation => limiter.InvokeAsync(invocation, next);
            })
            .Accepts<PlaceOrderRequest>("application/json")
            .WithName("PlaceOrder").WithSummary("Place an order")
            .WithDescription("Requires an Idempotency-Key header (1-100 characters): the same key and body answer the first order again; " +
                             "the same key with another body is a 422. Prices come from the catalog. 202 once the order is stored; " +
                             "follow statusUrl or stream eventsUrl. 429 (per-user rate) and 503 (busy, or catalog unavailable) carry Retry-After.");
        api.MapGet("/", ListAsync).RequireAuthorization()
            .WithName("ListOrders").WithSummary("List orders")
            .WithDescription("The caller's orders, newest first; admins see everyone's and may filter by userId. Filter by status; pageSize 1-100.");
        api.MapGet("/{id}", GetAsync).RequireAuthorization()
            .WithName("GetOrder").WithSummary("Get an order")
            .WithDescription("The order with its lines and status history; only its owner or an admin sees it (others get 404).");
        api.MapPost("/{id}/cancel", CancelAsync).RequireAuthorization()
            .WithName("CancelOrder").WithSummary("Cancel an order")
            .WithDescription("By its owner (or an admin) until it is paid; its stock reservation is released. 409 once it is paid or over.");
        api.MapPost("/{id}/ship", (string id, ClaimsPrincipal user, [AsParameters] OrderServices services, CancellationToken ct) =>
                MoveByAdminAsync(id, OrderStatus.Shipped, "shipped", user, services, ct))
            .RequireAuthorization(AuthenticationConventions.Policies.Admin)
            .WithName("ShipOrder").WithSummary("Mark an order shipped").WithDescription("Admin only; only from Paid (else 409).");
        api.MapPost("/{id}/deliver", (string id, ClaimsPrincipal user, [AsParameters] OrderServices services, CancellationToken ct) =>
                MoveByAdminAsync(id, OrderStatus.Delivered, "delivered", user, services, ct))
            .RequireAuthorization(AuthenticationConventions.Policies.Admin)
            .WithName("DeliverOrder").WithSummary("Mark an order delivered").WithDescription("Admin only; only from Shipped (else 409).");
        return api;
    }

    public static async Task<Results<Accepted<OrderAccepted>, ValidationProblem, ProblemHttpResult>> PlaceAsync(
        HttpRequest request, ClaimsPrincipal user, OrderPlacement placement, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        string? key = PlaceOrderValidation.IdempotencyKey(request.Headers["Idempotency-Key"].ToString(), errors);
        PlaceOrderRequest? body = await ReadBodyAsync(request, errors, cancellationToken);
        ValidOrderRequest? valid = body is null ? null : PlaceOrderValidation.Validate(body, errors);
        if (errors.Any || key is null || valid is null)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        PlacementResult result;
        try
        {
            result = await placement.PlaceAsync(UserId(user), key, valid, cancellationToken);
        }
        catch (CatalogUnavailableException unavailable)
        {
            request.HttpContext.Response.SetRetryAfter(unavailable.RetryAfter);
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Catalog unavailable",
                detail: unavailable.Message + " Prices cannot be read from the catalog right now; retry with the same Idempotency-Key after the time in Retry-After.");
        }

        switch (result)
        {
            case PlacementResult.Accepted accepted:
                string statusUrl = $"/api/orders/{accepted.OrderId:N}";
                return TypedResults.Accepted(statusUrl, new OrderAccepted(accepted.OrderId, accepted.Status, statusUrl, statusUrl + "/events"));
            case PlacementResult.UnknownProducts unknown:
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["items"] = [$"Unknown product(s): {string.Join(", ", unknown.ProductIds)}."],
                });
            default:
                return TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency-Key reused",
                    detail: "This Idempotency-Key was used for a different order; use a new key for a new order.");
        }
    }

    public static async Task<Results<Ok<PaginatedItems<OrderSummary>>, ValidationProblem>> ListAsync(
        string? pageIndex, string? pageSize, string? status, string? userId, ClaimsPrincipal user, [AsParameters] OrderServices services, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        int index = errors.OptionalInt("pageIndex", pageIndex, 0, int.MaxValue / MaxPageSize) ?? 0;
        int size = errors.OptionalInt("pageSize", pageSize, 1, MaxPageSize) ?? 20;
        OrderStatus? filter = null;
        if (!string.IsNullOrEmpty(status))
        {
            if (Enum.TryParse(status, ignoreCase: true, out OrderStatus parsed) && Enum.IsDefined(parsed) && !int.TryParse(status, out _))
            {
                filter = parsed;
            }
            else
            {
                errors.Add("status", $"Must be one of {string.Join(", ", Enum.GetNames<OrderStatus>())}.");
            }
        }

        if (!string.IsNullOrEmpty(userId) && !IsAdmin(user))
        {
            errors.Add("userId", "Only admins may list other users' orders.");
        }

        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        string? owner = IsAdmin(user) ? NullIfEmpty(userId) : UserId(user);
        return TypedResults.Ok(await services.Reads.ListAsync(owner, filter, index, size, cancellationToken));
    }

    public static async Task<Results<Ok<OrderDetails>, ProblemHttpResult>> GetAsync(
        string id, ClaimsPrincipal user, [AsParameters] OrderServices services, CancellationToken cancellationToken)
    {
        if (!TryParseId(id, out Guid orderId))
        {
            return NotFound(id);
        }

        OrderDetails? order = await services.Reads.GetAsync(orderId, cancellationToken);
        return order is not null && MaySee(user, order.UserId) ? TypedResults.Ok(order) : NotFound(id);
    }

    public static async Task<Results<Ok<OrderDetails>, ProblemHttpResult>> CancelAsync(
        string id, ClaimsPrincipal user, [AsParameters] OrderServices services, CancellationToken cancellationToken)
    {
        if (!TryParseId(id, out Guid orderId))
        {
            return NotFound(id);
        }

        return await MoveAsync(orderId, id, OrderStatus.Cancelled, IsAdmin(user) ? "cancelled by an admin" : "cancelled by the customer", user, services, cancellationToken);
    }

    private static async Task<Results<Ok<OrderDetails>, ProblemHttpResult>> MoveByAdminAsync(
        string id, OrderStatus to, string reason, ClaimsPrincipal user, OrderServices services, CancellationToken cancellationToken) =>
        TryParseId(id, out Guid orderId) ? await MoveAsync(orderId, id, to, reason, user, services, cancellationToken) : NotFound(id);

    private static async Task<Results<Ok<OrderDetails>, ProblemHttpResult>> MoveAsync(
        Guid orderId, string id, OrderStatus to, string reason, ClaimsPrincipal user, OrderServices services, CancellationToken cancellationToken)
    {
        TransitionResult result = await services.Database.InTransactionAsync(
            (_, transaction, token) => services.Ledger.MoveAsync(transaction, orderId, to, reason, token, onlyIf: order => MaySee(user, order.UserId)),
            cancellationToken);
        if (result.Outcome == TransitionOutcome.NotFound || (result.Order is { } seen && !MaySee(user, seen.UserId)))
        {
            return NotFound(id);
        }

        if (result.Outcome == TransitionOutcome.Illegal)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Illegal transition",
                detail: $"Order {id} is {result.From}; it cannot become {to}.",
                // Not "status": that member is the problem's HTTP status code, and a second one made the JSON ambiguous.
                extensions: new Dictionary<string, object?> { ["orderStatus"] = result.From?.ToString() });
        }

        return TypedResults.Ok((await services.Reads.GetAsync(orderId, cancellationToken))!);
    }

    internal static string UserId(ClaimsPrincipal user) =>
        user.FindFirstValue("sub") ?? throw new InvalidOperationException("An authenticated user without a subject claim.");

    internal static bool IsAdmin(ClaimsPrincipal user) => user.IsInRole(AuthenticationConventions.AdminRole);

    internal static bool MaySee(ClaimsPrincipal user, string ownerId) => IsAdmin(user) || user.FindFirstValue("sub") == ownerId;

    internal static bool TryParseId(string id, out Guid orderId) =>
        Guid.TryParseExact(id, "N", out orderId) || Guid.TryParseExact(id, "D", out orderId);

    internal static ProblemHttpResult NotFound(string id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Order not found", detail: $"There is no order {Shorten(id)} that you may see.");

    private static async Task<PlaceOrderRequest?> ReadBodyAsync(HttpRequest request, ValidationErrors errors, CancellationToken cancellationToken)
    {
        if (!request.HasJsonContentType())
        {
            errors.Add("body", "Send a JSON object with Content-Type: application/json.");
            return null;
        }

        try
        {
            PlaceOrderRequest? body = await request.ReadFromJsonAsync<PlaceOrderRequest>(cancellationToken);
            if (body is null)
            {
                errors.Add("body", "A JSON object is required.");
            }

            return body;
        }
        catch (JsonException exception)
        {
            string member = string.IsNullOrEmpty(exception.Path) || exception.Path == "$" ? "body" : exception.Path.TrimStart('$', '.');
            errors.Add(member, "Is malformed or has the wrong type.");
            return null;
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string Shorten(string id) => id.Length <= 64 ? id : id[..64] + "…";
}
