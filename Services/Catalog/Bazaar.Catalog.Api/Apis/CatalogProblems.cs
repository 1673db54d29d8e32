using Bazaar.Catalog.Api.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Bazaar.ServiceDefaults.Validation;

namespace Bazaar.Catalog.Api.Apis;

/// <summary>The catalog's problem details, written once so every endpoint words them the same way.</summary>
internal static class CatalogProblems
{
    public static ProblemHttpResult NotFound(string what) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"{what} does not exist.");

    public static ValidationProblem Invalid(ValidationErrors errors) =>
        TypedResults.ValidationProblem(errors.ToDictionary(), title: "The request is not valid.");

    public static ValidationProblem Invalid(string member, string message)
    {
        var errors = new ValidationErrors();
        errors.Add(member, message);
        return Invalid(errors);
    }

    public static ProblemHttpResult Conflict(string member, string message) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: message,
            extensions: new Dictionary<string, object?> { ["member"] = member });

    /// <summary>Maps a write that did not happen to its answer: 404, 409, or a 400 naming the member.</summary>
    public static ProblemHttpResult Failed<T>(WriteResult<T> result, string what) => result.Outcome switch
    {
        WriteOutcome.NotFound => NotFound(what),
        WriteOutcome.Conflict => Conflict(result.Member!, result.Message!),
        WriteOutcome.Invalid => TypedResults.Problem(new HttpValidationProblemDetails(
            new Dictionary<string, string[]> { [result.Member!] = [result.Message!] })
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request is not valid.",
        }),
        _ => throw new InvalidOperationException("The write succeeded."),
    };
}
