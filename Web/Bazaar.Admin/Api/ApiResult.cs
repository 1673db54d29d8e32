using System.Net.Http.Json;
using System.Text.Json;
using Polly;

namespace Bazaar.Admin.Api;

/// <summary>Why a service said no (its problem details), or why it could not be asked: what a page shows instead of data.</summary>
public sealed record ApiProblem(int Status, string Title, string? Detail, IReadOnlyDictionary<string, string[]> Errors)
{
    public static readonly IReadOnlyDictionary<string, string[]> NoErrors = new Dictionary<string, string[]>();

    public static ApiProblem SignedOut { get; } = new(401, "Your session has ended", "Sign in again.", NoErrors);

    public IEnumerable<string> ErrorMessages => Errors.SelectMany(error => error.Value.Select(message => $"{error.Key}: {message}"));
}

/// <summary>A service's answer: its value, or the problem instead.</summary>
public sealed record ApiResult<T>(T? Value, ApiProblem? Problem)
{
    public static implicit operator ApiResult<T>(ApiProblem problem) => new(default, problem);
}

/// <summary>An answer without a body (204, or one the caller does not read).</summary>
public sealed record NoBody
{
    public static readonly NoBody Instance = new();
}

/// <summary>Sends a request to a service and turns every outcome into an <see cref="ApiResult{T}"/>, never an exception.</summary>
public static class ServiceCall
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static async Task<ApiResult<T>> SendAsync<T>(HttpClient http, string service, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using HttpRequestMessage sent = request;
        try
        {
            using HttpResponseMessage response = await http.SendAsync(sent, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return await ProblemAsync(service, response, cancellationToken);
            }

            if (typeof(T) == typeof(NoBody))
            {
                return new ApiResult<T>((T)(object)NoBody.Instance, null);
            }

            T? value = await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken);
            return value is null ? new ApiProblem(502, $"{service} answered without a body", null, ApiProblem.NoErrors) : new ApiResult<T>(value, null);
        }
        catch (Exception exception) when (exception is HttpRequestException or ExecutionRejectedException or JsonException or NotSupportedException
                                          || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new ApiProblem(503, $"{service} could not be reached", exception.Message, ApiProblem.NoErrors);
        }
    }

    private static async Task<ApiProblem> ProblemAsync(string service, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        int status = (int)response.StatusCode;
        string fallbackTitle = $"{service} answered {status} {response.ReasonPhrase}";
        try
        {
            ProblemBody? body = await response.Content.ReadFromJsonAsync<ProblemBody>(Json, cancellationToken);
            return new ApiProblem(status, body?.Title ?? fallbackTitle, body?.Detail, body?.Errors ?? ApiProblem.NoErrors);
        }
        catch (Exception exception) when (exception is JsonException or NotSupportedException)
        {
            return new ApiProblem(status, fallbackTitle, null, ApiProblem.NoErrors);
        }
    }

    private sealed record ProblemBody(string? Title, string? Detail, Dictionary<string, string[]>? Errors);
}
