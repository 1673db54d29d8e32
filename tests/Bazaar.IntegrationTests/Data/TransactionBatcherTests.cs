using System.Data.Common;
using Bazaar.Data;
using Bazaar.Testing;
using MySqlConnector;

namespace Bazaar.IntegrationTests.Data;

/// <summary>
/// Group commit on the real MariaDB: items waiting together share one transaction and one command, a failing item
/// fails only its own caller, and a caller that gives up does not take the others with it. Each both ways: a write that
/// sends its own commands in the batcher's transaction, and statements sent with BEGIN and COMMIT as one command.
/// </summary>
public sealed class TransactionBatcherTests
{
    private static readonly SqlStatement CreateNames = new("names.create", "CREATE TABLE names (name VARCHAR(50) PRIMARY KEY, written_in INT NOT NULL)");
    private static readonly SqlStatement SelectNames = new("names.select", "SELECT name FROM names ORDER BY name");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Items_waiting_together_are_written_in_one_transaction_and_each_caller_gets_its_own_result(bool oneCommand)
    {
        await using Scenario scenario = await Scenario.StartAsync("batch_group", oneCommand);
        Task<string> first = scenario.Batcher.SubmitAsync("first");
        await scenario.FirstGroupStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Task<string>[] others = Enumerable.Range(0, 40).Select(i => scenario.Batcher.SubmitAsync($"item-{i:00}")).ToArray();
        await scenario.WaitUntilQueuedAsync(40);
        scenario.ReleaseFirstGroup();

        Assert.Equal("written first", await first);
        Assert.Equal(others.Select((_, i) => $"written item-{i:00}"), await Task.WhenAll(others));
        Assert.Equal(new[] { 1, 40 }, scenario.GroupSizes);
        Assert.Equal(41, (await scenario.NamesAsync()).Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_item_that_fails_fails_only_its_caller_and_the_rest_of_its_group_commits(bool oneCommand)
    {
        await using Scenario scenario = await Scenario.StartAsync("batch_split", oneCommand);
        Task<string> first = scenario.Batcher.SubmitAsync("taken");
        await scenario.FirstGroupStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Task<string>[] group = new[] { "a", "b", "taken", "c", "d" }.Select(name => scenario.Batcher.SubmitAsync(name)).ToArray();
        await scenario.WaitUntilQueuedAsync(5);
        scenario.ReleaseFirstGroup();

        await first;
        Exception duplicate = await Assert.ThrowsAnyAsync<Exception>(() => group[2]);
        Assert.True(TransientErrors.IsUniqueViolation(duplicate), duplicate.ToString());
        Assert.Equal(new[] { "written a", "written b", "written c", "written d" }, await Task.WhenAll(group[0], group[1], group[3], group[4]));
        Assert.Equal(new[] { "a", "b", "c", "d", "taken" }, await scenario.NamesAsync());
    }

    [Fact]
    public async Task A_caller_that_cancels_while_queued_is_dropped_and_the_others_commit()
    {
        await using Scenario scenario = await Scenario.StartAsync("batch_cancel", oneCommand: false);
        Task<string> first = scenario.Batcher.SubmitAsync("first");
        await scenario.FirstGroupStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));

        using var impatient = new CancellationTokenSource();
        Task<string> keep = scenario.Batcher.SubmitAsync("kept");
        Task<string> dropped = scenario.Batcher.SubmitAsync("dropped", impatient.Token);
        Task<string> alsoKept = scenario.Batcher.SubmitAsync("also-kept");
        await scenario.WaitUntilQueuedAsync(3);
        await impatient.CancelAsync();
        scenario.ReleaseFirstGroup();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dropped);
        Assert.Equal(new[] { "written first", "written kept", "written also-kept" }, new[] { await first, await keep, await alsoKept });
        Assert.Equal(new[] { "also-kept", "first", "kept" }, await scenario.NamesAsync());
    }

    /// <summary>
    /// One writer loop over a table of unique names. Its first group is held until the test releases it (its transaction
    /// open, or, as one command, not yet sent), so that everything submitted meanwhile waits and forms the next group,
    /// whatever the machine's speed.
    /// </summary>
    private sealed class Scenario : IAsyncDisposable
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEventSlim _releaseStatements = new();
        private readonly List<int> _groupSizes = [];
        private int _groups;

        private Scenario(MySqlDataSource database, bool oneCommand)
        {
            Database = database;
            var options = new TransactionBatcherOptions { Writers = 1, MaxBatchSize = 64 };
            Batcher = oneCommand
                ? new TransactionBatcher<string, string>(database, "names.insert", Statements, options)
                : new TransactionBatcher<string, string>(database, "names.insert", WriteAsync, options);
        }

        public MySqlDataSource Database { get; }

        public TransactionBatcher<string, string> Batcher { get; }

        public TaskCompletionSource FirstGroupStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyList<int> GroupSizes
        {
            get
            {
                lock (_groupSizes)
                {
                    return [.. _groupSizes];
                }
            }
        }

        public static async Task<Scenario> StartAsync(string name, bool oneCommand)
        {
            TestServers servers = await TestServers.SharedAsync();
            var database = new MySqlDataSource(await servers.CreateDatabaseAsync(name));
            await database.WithConnectionAsync((c, t) => c.ExecuteAsync(CreateNames, cancellationToken: t));
            return new Scenario(database, oneCommand);
        }

        public void ReleaseFirstGroup()
        {
            _release.TrySetResult();
            _releaseStatements.Set();
        }

        public async Task WaitUntilQueuedAsync(int count)
        {
            DateTime deadline = DateTime.UtcNow.AddSeconds(30);
            while (Batcher.Waiting < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"only {Batcher.Waiting} of {count} items were queued");
                await Task.Delay(10);
            }
        }

        public async Task<IReadOnlyList<string>> NamesAsync() =>
            await Database.WithConnectionAsync((c, t) => c.QueryAsync<string>(SelectNames, cancellationToken: t));

        public async ValueTask DisposeAsync()
        {
            ReleaseFirstGroup();
            await Batcher.DisposeAsync();
            _releaseStatements.Dispose();
        }

        // The whole group is one multi-row INSERT: one duplicate name fails all of it, as a real group writer's would.
        private async Task<IReadOnlyList<string>> WriteAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<string> names, CancellationToken token)
        {
            var batch = new SqlBatch("names.insert_many");
            int group = AddGroup(batch, names);
            await batch.ExecuteAsync(connection, transaction, token);
            if (group == 1)
            {
                FirstGroupStarted.TrySetResult();
                await _release.Task.WaitAsync(token);
            }

            return names.Select(name => "written " + name).ToList();
        }

        // The same INSERT, sent by the batcher with BEGIN and COMMIT; the first group waits before anything is sent.
        private IReadOnlyList<string> Statements(SqlBatch batch, IReadOnlyList<string> names)
        {
            if (AddGroup(batch, names) == 1)
            {
                FirstGroupStarted.TrySetResult();
                _releaseStatements.Wait(TimeSpan.FromSeconds(30));
            }

            return names.Select(name => "written " + name).ToList();
        }

        private int AddGroup(SqlBatch batch, IReadOnlyList<string> names)
        {
            int group = Interlocked.Increment(ref _groups);
            lock (_groupSizes)
            {
                _groupSizes.Add(names.Count);
            }

            batch.Insert("INSERT INTO names (name, written_in) VALUES");
            foreach (string name in names)
            {
                batch.Row(name, group);
            }

            batch.End();
            return group;
        }
    }
}
