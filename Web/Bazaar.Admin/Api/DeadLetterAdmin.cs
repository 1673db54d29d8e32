using System.Globalization;

namespace Bazaar.Admin.Api;

public sealed record DeadLetter(
    string? MessageId,
    string? EventType,
    string? Reason,
    string? DeadLetteredAt,
    int Attempts,
    IReadOnlyDictionary<string, string?> Headers,
    string Body);

public sealed record DeadLetterList(string Service, int Count, IReadOnlyList<DeadLetter> Items);

public sealed record RequeueResult(string Service, int Requeued);

/// <summary>The worker's dead-letter endpoints (admin only): a service's dead letters, and moving them back to its queue.</summary>
public sealed class DeadLetterAdmin(AdminApi api)
{
    public const int Limit = 100;

    private const string Prefix = "/api/messaging/dead-letters/";

    public Task<ApiResult<DeadLetterList>> ListAsync(string service, CancellationToken cancellationToken) =>
        api.GetAsync<DeadLetterList>(AdminApi.Worker,
            $"{Prefix}{Uri.EscapeDataString(service)}?limit={Limit.ToString(CultureInfo.InvariantCulture)}", cancellationToken);

    /// <summary>Re-queues the given messages, or every dead letter of the service when <paramref name="messageIds"/> is null.</summary>
    public Task<ApiResult<RequeueResult>> RequeueAsync(string service, IReadOnlyList<string>? messageIds, CancellationToken cancellationToken) =>
        api.SendAsync<RequeueResult>(AdminApi.Worker, HttpMethod.Post, $"{Prefix}{Uri.EscapeDataString(service)}/requeue",
            new { messageIds }, cancellationToken);
}
