using System.Text.Json;
using Bazaar.ServiceDefaults.Validation;

namespace Bazaar.Catalog.Api.Apis;

/// <summary>
/// Reads a JSON body so that a malformed document or a wrongly typed member becomes a 400 naming that member,
/// where model binding would answer a bare 400.
/// </summary>
internal static class JsonBody
{
    public static async Task<T?> ReadAsync<T>(HttpRequest request, ValidationErrors errors, CancellationToken cancellationToken)
        where T : class
    {
        if (!request.HasJsonContentType())
        {
            errors.Add("body", "Send a JSON object with Content-Type: application/json.");
            return null;
        }

        try
        {
            T? value = await request.ReadFromJsonAsync<T>(cancellationToken);
            if (value is null)
            {
                errors.Add("body", "A JSON object is required.");
            }

            return value;
        }
        catch (JsonException exception)
        {
            errors.Add(MemberOf(exception.Path), "Is malformed or has the wrong type.");
            return null;
        }
    }

    // "$.items[2].quantity" -> "items[2].quantity"; the whole document -> "body".
    private static string MemberOf(string? path) =>
        string.IsNullOrEmpty(path) || path == "$" ? "body" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path;
}
