using Bazaar.Data;
using System.Collections.Concurrent;
using System.Diagnostics;
using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bazaar.IntegrationTests.Messaging;

/// <summary>
/// The relay sends the next full batch while the previous one waits for its confirms and its commit, and with a gather
/// delay it waits after a large batch. Each test writes its rows (two full batches of 5, unless told) before the relay
/// starts and watches the relay between confirm and mark.
/// </summary>
public sealed class RelayPipelineTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task While_a_full_batch_waits_to_be_marked_the_next_is_already_published_and_the_first_commits_first()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var pipeline = await Pipeline.StartAsync("pipeline", async (seqs, ct) =>
        {
            if (Pipeline.IsFirstBatch(seqs))
            {
                await release.Task.WaitAsync(ct);
            }
        });

        await Eventually.HoldsAsync(() => Task.FromResult(pipeline.Confirmed.Count == 2), Timeout, "the second batch is confirmed while the first is held");
        Assert.Equal(10, await pipeline.Scenario.CountPendingOutboxRowsAsync());

        release.SetResult();

        await Eventually.HoldsAsync(async () => await pipeline.Scenario.CountPendingOutboxRowsAsync() == 0, Timeout, "both batches are marked sent");
        await Eventually.HoldsAsync(async () => await pipeline.Scenario.CountEffectsAsync() == 10, Timeout, "every event is handled");
        Assert.Equal(10, await pipeline.Scenario.CountDistinctEffectsAsync());
        Assert.Equal(2, pipeline.Confirmed.Count);
    }

    [Fact]
    public async Task When_the_first_batch_fails_the_second_is_rolled_back_too_and_both_are_published_again_with_each_effect_once()
    {
        var secondConfirmed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var failed = 0;
        await using var pipeline = await Pipeline.StartAsync("pipelinefail", async (seqs, ct) =>
        {
            if (!Pipeline.IsFirstBatch(seqs))
            {
                secondConfirmed.TrySetResult();
            }
            else if (Interlocked.Exchange(ref failed, 1) == 0)
            {
                await secondConfirmed.Task.WaitAsync(ct);
                throw new InvalidOperationException("The first batch fails after the second was published.");
            }
        });

        await Eventually.HoldsAsync(async () => await pipeline.Scenario.CountPendingOutboxRowsAsync() == 0, Timeout, "every row is marked sent in the end");
        await Eventually.HoldsAsync(async () => await pipeline.Scenario.CountEffectsAsync() == 10, Timeout, "every event is handled");
        Assert.Equal(10, await pipeline.Scenario.CountDistinctEffectsAsync());
        Assert.True(pipeline.Confirmed.Count(batch => !Pipeline.IsFirstBatch(batch)) >= 2, "the second batch was rolled back and published again");
    }

    [Fact]
    public async Task After_a_batch_of_RelayGatherRows_the_relay_waits_RelayGatherDelay_and_after_a_smaller_one_it_publishes_at_once()
    {
        var gather = TimeSpan.FromSeconds(3);
        var confirmed = new ConcurrentQueue<(int Rows, long At)>();
        await using var pipeline = await Pipeline.StartAsync(
            "gather",
            (seqs, _) =>
            {
                confirmed.Enqueue((seqs.Length, Stopwatch.GetTimestamp()));
                return Task.CompletedTask;
            },
            rows: 5,
            o => (o.RelayGatherRows, o.RelayGatherDelay) = (5, gather));
        var scenario = pipeline.Scenario;
        var outbox = new Outbox(new OutboxSignal(), TimeProvider.System);

        await Eventually.HoldsAsync(() => Task.FromResult(!confirmed.IsEmpty), Timeout, "the five rows written before the relay started are published");
        await scenario.CommitStateChangeAsync(outbox, "sku-gathered");
        await Eventually.HoldsAsync(() => Task.FromResult(confirmed.Count == 2), Timeout, "the row written after them is published");
        await scenario.CommitStateChangeAsync(outbox, "sku-at-once");
        var written = Stopwatch.GetTimestamp();
        await Eventually.HoldsAsync(() => Task.FromResult(confirmed.Count == 3), Timeout, "the row written after a lone row is published");

        var batches = confirmed.ToArray();
        Assert.Equal([5, 1, 1], batches.Select(b => b.Rows));
        var gap = Stopwatch.GetElapsedTime(batches[0].At, batches[1].At);
        Assert.True(gap >= gather, $"after a batch of five the next was published {gap.TotalMilliseconds:F0} ms later, within the gather delay");
        var wait = Stopwatch.GetElapsedTime(written, batches[2].At);
        Assert.True(wait < gather - TimeSpan.FromSeconds(1), $"after a lone row the next row waited {wait.TotalMilliseconds:F0} ms");
        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() == 7, Timeout, "every event is handled");
    }

    /// <summary>
    /// <c>rows</c> rows (ten unless told) written before the relay starts, whose batches are five rows unless <c>options</c>
    /// say otherwise; <c>pause</c> runs between each batch's confirm and its mark.
    /// </summary>
    private sealed class Pipeline : IAsyncDisposable
    {
        private Pipeline(MessagingScenario scenario) => Scenario = scenario;

        public MessagingScenario Scenario { get; }

        /// <summary>The seqs of each batch the broker confirmed (two batches confirmed together may reach here in either order).</summary>
        public ConcurrentQueue<long[]> Confirmed { get; } = new();

        /// <summary>The rows of a fresh outbox are numbered from 1, so the first batch is the one holding seq 1.</summary>
        public static bool IsFirstBatch(IReadOnlyCollection<long> seqs) => seqs.Contains(1);

        public static async Task<Pipeline> StartAsync(string name, Func<long[], CancellationToken, Task> pause, int rows = 10, Action<MessagingOptions>? options = null)
        {
            var pipeline = new Pipeline(await MessagingScenario.CreateAsync(name));
            var scenario = pipeline.Scenario;

            // The first host creates the tables and binds the consumer's queue; the relay starts once the rows are in.
            await scenario.StartHostAsync(m => m.AddConsumer<ItemAdded, RecordingHandler>());
            var outbox = new Outbox(new OutboxSignal(), TimeProvider.System);
            await scenario.DataSource.InTransactionAsync(async (_, transaction, token) =>
            {
                for (var i = 0; i < rows; i++)
                {
                    await outbox.AddAsync(transaction, new ItemAdded($"sku-{i}"), cancellationToken: token);
                }
            });

            await scenario.StartHostAsync(
                m =>
                {
                    m.Builder.Services.AddSingleton(new OutboxRelayTestPause((seqs, ct) =>
                    {
                        long[] batch = [.. seqs];
                        pipeline.Confirmed.Enqueue(batch);
                        return pause(batch, ct);
                    }));
                    m.AddOutbox();
                },
                options ?? (o => o.RelayBatchSize = 5));
            return pipeline;
        }

        public ValueTask DisposeAsync() => Scenario.DisposeAsync();
    }
}
