using Bazaar.Data;
using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;

namespace Bazaar.IntegrationTests.Messaging;

/// <summary>
/// Both relay claims read the outbox through <c>ix_outbox_due</c>. On the primary key (the optimizer's choice on a small
/// outbox) a claim walks every published row kept for retention before it finds a pending one. (When claims still locked
/// their rows, such a plan also left the index entries for the next pipelined claim to lock, and the two batches waited
/// on each other until the 30 s command timeout: the events benchmark's stalls of session 6.)
/// </summary>
public sealed class RelayClaimPlanTests
{
    [Theory]
    [InlineData(OutboxRelay.ClaimDueText)]
    [InlineData(OutboxRelay.ClaimFreshText)]
    public async Task A_claim_reads_the_outbox_through_its_due_index_whatever_the_table_holds(string claim)
    {
        await using var scenario = await MessagingScenario.CreateAsync("claimplan");
        var host = await scenario.StartHostAsync(m => m.AddOutbox(), o => o.RelayPollInterval = TimeSpan.FromHours(1));
        var explain = new SqlStatement("outbox.explain_claim", "EXPLAIN " + claim);
        var parameters = new { now = DateTime.UtcNow, after = 0L, batchSize = 256 };

        Assert.Equal("ix_outbox_due", await PlannedKeyAsync(scenario, explain, parameters));

        var outbox = host.Services.GetRequiredService<IOutbox>();
        for (var i = 0; i < 20; i++)
        {
            await scenario.CommitStateChangeAsync(outbox, $"sku-{i}");
        }

        Assert.Equal("ix_outbox_due", await PlannedKeyAsync(scenario, explain, parameters));
    }

    private static async Task<string?> PlannedKeyAsync(MessagingScenario scenario, SqlStatement explain, object parameters)
    {
        var plan = await scenario.DataSource.WithConnectionAsync((connection, token) => connection.QueryAsync<PlanRow>(explain, parameters, cancellationToken: token));
        return Assert.Single(plan, row => row.Table == "outbox").Key;
    }

    private sealed class PlanRow
    {
        public string Table { get; init; } = "";

        public string? Key { get; init; }
    }
}
