using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Bazaar.IntegrationTests.Messaging;

public sealed class ConsumerShutdownTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Stopping_the_host_lets_an_in_flight_handler_finish_and_acknowledges_its_message()
    {
        await using var scenario = await MessagingScenario.CreateAsync("drain");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new HandlerProbe { BeforeWrite = _ => release.Task };
        var host = await scenario.StartHostAsync(m => m.AddOutbox().AddConsumer<ItemAdded, RecordingHandler>(), probe: probe);
        await scenario.CommitStateChangeAsync(host.Services.GetRequiredService<IOutbox>(), "sku-in-flight");
        await Eventually.HoldsAsync(() => Task.FromResult(!probe.Calls.IsEmpty), Timeout, "the handler is running");

        using var generous = new CancellationTokenSource(Timeout);
        var stopping = host.StopAsync(generous.Token);
        Assert.False(stopping.IsCompleted, "the host waits for the in-flight handler");
        release.SetResult();
        await stopping;

        Assert.Equal(1, await scenario.CountEffectsAsync());
        Assert.Equal(0u, await QueueDepthAsync(scenario, host));
    }

    // With no time at all the consumer cannot even be cancelled on the broker: the channel is closed instead.
    [Theory]
    [InlineData(300)]
    [InlineData(0)]
    public async Task A_handler_still_running_when_the_shutdown_timeout_ends_is_rolled_back_and_its_message_returned_for_the_next_consumer(int patienceMs)
    {
        await using var scenario = await MessagingScenario.CreateAsync($"abort{patienceMs}");
        var stuck = new HandlerProbe { BeforeWrite = ct => Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, ct) };
        var first = await scenario.StartHostAsync(m => m.AddOutbox().AddConsumer<ItemAdded, RecordingHandler>(), probe: stuck);
        await scenario.CommitStateChangeAsync(first.Services.GetRequiredService<IOutbox>(), "sku-stuck");
        await Eventually.HoldsAsync(() => Task.FromResult(!stuck.Calls.IsEmpty), Timeout, "the handler is stuck");

        using (var impatient = new CancellationTokenSource(TimeSpan.FromMilliseconds(patienceMs)))
        {
            await first.StopAsync(impatient.Token);
        }

        Assert.Equal(0, await scenario.CountEffectsAsync());
        var next = new HandlerProbe();
        await scenario.StartHostAsync(m => m.AddConsumer<ItemAdded, RecordingHandler>(), probe: next);

        await Eventually.HoldsAsync(async () => await scenario.CountEffectsAsync() == 1, Timeout, "the returned message is handled by the next consumer");
        Assert.Single(next.Calls);
    }

    private static async Task<uint> QueueDepthAsync(MessagingScenario scenario, IHost host)
    {
        var queue = host.Services.GetRequiredService<IOptions<MessagingOptions>>().Value.QueueName;
        await using var connection = await new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(scenario.RabbitMqConnectionString) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var declared = await channel.QueueDeclarePassiveAsync(queue);
        return declared.MessageCount + declared.ConsumerCount;
    }
}
