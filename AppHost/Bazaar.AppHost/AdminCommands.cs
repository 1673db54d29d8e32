using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Bazaar.AppHost;

/// <summary>
/// Dashboard commands for operators, calling the services' own admin endpoints with a token of the seeded admin
/// (<c>admin@bazaar.local</c>, whose password the AppHost knows: BAZAAR_ADMIN_PASSWORD or the data directory's file).
/// </summary>
internal static class AdminCommands
{
    /// <summary>"Re-queue {queue} dead letters" on the worker: moves every dead letter of that queue back with a fresh retry budget.</summary>
    public static IResourceBuilder<ProjectResource> WithRequeueDeadLettersCommand(
        this IResourceBuilder<ProjectResource> worker, string queue, IResourceBuilder<ProjectResource> authApi, Func<string> adminPassword) =>
        worker.WithHttpCommand(
            $"/api/messaging/dead-letters/{queue}/requeue",
            $"Re-queue {queue} dead letters",
            commandName: $"requeue-dead-letters-{queue}",
            commandOptions: new HttpCommandOptions
            {
                Method = HttpMethod.Post,
                IconName = "ArrowRepeatAll",
                Description = $"Moves every dead letter of the {queue} queue back to it with a fresh retry budget.",
                ConfirmationMessage = $"Re-queue every dead letter of {queue}?",
                PrepareRequest = async context =>
                {
                    string token = await AdminTokenAsync(context.HttpClient, authApi.GetEndpoint("http"), adminPassword(), context.CancellationToken);
                    context.Request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                    context.Request.Content = JsonContent.Create(new { });
                },
            });

    private static async Task<string> AdminTokenAsync(HttpClient http, EndpointReference authApi, string password, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await http.PostAsJsonAsync(
            new Uri(new Uri(authApi.Url), "/api/auth/login"), new { email = "admin@bazaar.local", password }, cancellationToken);
        response.EnsureSuccessStatusCode();
        LoginAnswer answer = await response.Content.ReadFromJsonAsync<LoginAnswer>(cancellationToken)
            ?? throw new InvalidOperationException("auth-api answered the admin's login without a body.");
        return answer.AccessToken;
    }

    private sealed record LoginAnswer(string AccessToken);
}
