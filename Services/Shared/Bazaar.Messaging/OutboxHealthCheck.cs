using Bazaar.Data;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using MySqlConnector;

namespace Bazaar.Messaging;

/// <summary>Degraded while the oldest unpublished outbox row is older than the threshold: the relay is stuck or behind.</summary>
internal sealed class OutboxHealthCheck(MySqlDataSource dataSource, IOptions<MessagingOptions> options, TimeProvider timeProvider) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var backlog = await OutboxRelay.ReadBacklogAsync(dataSource, cancellationToken).ConfigureAwait(false);
        var age = backlog.OldestAge(timeProvider.GetUtcNow());
        var data = new Dictionary<string, object>
        {
            ["backlog"] = backlog.Pending,
            ["oldestAgeSeconds"] = Math.Round(age.TotalSeconds, 1),
        };
        return age > options.Value.BacklogDegradedAfter
            ? HealthCheckResult.Degraded($"{backlog.Pending} outbox row(s) unpublished, the oldest for {age.TotalSeconds:F0} s.", data: data)
            : HealthCheckResult.Healthy($"{backlog.Pending} outbox row(s) pending.", data);
    }
}
