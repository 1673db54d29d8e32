using System.Text.RegularExpressions;
using Bazaar.Messaging;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Operator endpoints for dead letters: list them and re-queue them. Admin only.</summary>
public static partial class DeadLetterEndpoints
{
    public sealed record DeadLetterList(string Service, int Count, IReadOnlyList<DeadLetter> Items);

    public sealed record RequeueRequest(string[]? MessageIds);

    public sealed record RequeueResult(string Service, int Requeued);

    /// <summary>Maps <c>GET {prefix}/{service}</c> and <c>POST {prefix}/{service}/requeue</c>, requiring the "admin" policy.</summary>
    public static RouteGroupBuilder MapDeadLetterEndpoints(this IEndpointRouteBuilder endpoints, string prefix = "/api/messaging/dead-letters")
    {
        var group = endpoints.MapGroup(prefix).WithTags("Dead letters").RequireAuthorization("admin");
        group.MapGet("/{service}", ListAsync)
            .WithName("ListDeadLetters")
            .WithSummary("Lists the dead letters of a service's queue")
            .WithDescription("Reads up to `limit` (1-1000, default 100) messages from the service's dead-letter queue without removing them.");
        group.MapPost("/{service}/requeue", RequeueAsync)
            .WithName("RequeueDeadLetters")
            .WithSummary("Re-queues dead letters to the service's queue")
            .WithDescription("Moves the dead letters with the given message ids (all when none are given) back to the service's queue with a fresh retry budget.");
        return group;
    }

    private static async Task<Results<Ok<DeadLetterList>, NotFound<ProblemDetails>, ValidationProblem>> ListAsync(
        string service, int? limit, DeadLetterStore store, CancellationToken cancellationToken)
    {
        var take = limit ?? 100;
        if (Validate(service, take) is { } problem)
        {
            return problem;
        }

        var letters = await store.ListAsync(service, take, cancellationToken).ConfigureAwait(false);
        return letters is null ? NoQueue(service) : TypedResults.Ok(new DeadLetterList(service, letters.Count, letters));
    }

    private static async Task<Results<Ok<RequeueResult>, NotFound<ProblemDetails>, ValidationProblem>> RequeueAsync(
        string service, RequeueRequest? request, DeadLetterStore store, CancellationToken cancellationToken)
    {
        if (Validate(service, 1) is { } problem)
        {
            return problem;
        }

        var moved = await store.RequeueAsync(service, request?.MessageIds, cancellationToken).ConfigureAwait(false);
        return moved is null ? NoQueue(service) : TypedResults.Ok(new RequeueResult(service, moved.Value));
    }

    private static ValidationProblem? Validate(string service, int limit)
    {
        var errors = new Dictionary<string, string[]>();
        if (!ServiceName().IsMatch(service))
        {
            errors["service"] = ["A service name is 1-100 letters, digits, '.', '-' or '_'."];
        }

        if (limit is < 1 or > 1000)
        {
            errors["limit"] = ["limit must be between 1 and 1000."];
        }

        return errors.Count == 0 ? null : TypedResults.ValidationProblem(errors);
    }

    private static NotFound<ProblemDetails> NoQueue(string service) => TypedResults.NotFound(new ProblemDetails
    {
        Status = StatusCodes.Status404NotFound,
        Title = "No dead-letter queue",
        Detail = $"Service '{service}' has no dead-letter queue (it never consumed events, or the name is wrong).",
    });

    [GeneratedRegex("^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex ServiceName();
}
