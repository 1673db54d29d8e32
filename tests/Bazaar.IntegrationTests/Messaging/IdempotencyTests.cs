using System.Reflection;
using System.Diagnostics;
using System.Threading.Channels;
using Bazaar.Data;
using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MySqlConnector;

namespace Bazaar.IntegrationTests.Messaging;

public sealed class IdempotencyTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_same_event_delivered_three_times_changes_the_database_once()
    {
        await using var scenario = await MessagingScenario.CreateAsync("dup");
        var probe = new HandlerProbe();
        var host = await scenario.StartHostAsync(m => m.AddConsumer<ItemAdded, RecordingHandler>(), o => o.MaxConcurrency = 1, probe);
        var options = host.Services.GetRequiredService<IOptions<MessagingOptions>>().Value;
        using var consumed = new CounterProbe("bazaar.messaging.consumed", options.QueueName);

        var envelope = EventEnvelope.Create(new ItemAdded("sku-dup"));
        await using (var publisher = new ConfirmingPublisher(host.Services.GetRequiredService<RabbitMQConnectionProvider>(), options.ExchangeName))
        {
            for (var i = 0; i < 3; i++)
            {
                var properties = new RabbitMQ.Client.BasicProperties { MessageId = envelope.Id.ToString(), Type = envelope.Type, Persistent = true };
                await publisher.PublishAsync(options.ExchangeName, envelope.Type, properties, envelope.ToUtf8Bytes(), default);
            }
        }

        await Eventually.HoldsAsync(() => Task.FromResult(consumed.Total == 3), Timeout, "all three deliveries are acknowledged");
        Assert.Equal(2, consumed.Duplicates);
        Assert.Equal(1, await scenario.CountEffectsAsync());
        Assert.Single(probe.Calls);
    }

    [Fact]
    public async Task A_relay_process_killed_with_SIGKILL_between_publish_and_mark_as_sent_publishes_again_when_restarted_and_the_effect_still_happens_once()
    {
        await using var scenario = await MessagingScenario.CreateAsync("crash");
        var host = await scenario.StartHostAsync(m => m.AddConsumer<ItemAdded, RecordingHandler>());
        var options = host.Services.GetRequiredService<IOptions<MessagingOptions>>();
        using var consumed = new CounterProbe("bazaar.messaging.consumed", options.Value.QueueName);
        var outbox = new Outbox(new OutboxSignal(), TimeProvider.System);
        for (var i = 0; i < 20; i++)
        {
            await scenario.CommitStateChangeAsync(outbox, $"sku-{i}");
        }

        await using (var doomed = RelayProcess.Start(scenario, holdAfterConfirm: true))
        {
            Assert.Equal("held 20", await doomed.NextLineAsync(line => line.StartsWith("held", StringComparison.Ordinal), Timeout));
            await Eventually.HoldsAsync(() => Task.FromResult(consumed.Total == 20), Timeout, "the doomed relay's publishes are consumed");
            Assert.Equal(137, await doomed.KillAsync()); // 128 + SIGKILL
        }

        Assert.Equal(20, await scenario.CountPendingOutboxRowsAsync());

        await using (RelayProcess.Start(scenario, holdAfterConfirm: false))
        {
            await Eventually.HoldsAsync(async () => await scenario.CountPendingOutboxRowsAsync() == 0, Timeout, "the restarted relay marks every row sent");
            await Eventually.HoldsAsync(() => Task.FromResult(consumed.Total == 40), Timeout, "the republished events are consumed");
        }

        Assert.Equal(20, consumed.Duplicates);
        Assert.Equal(20, await scenario.CountEffectsAsync());
        Assert.Equal(20, await scenario.CountDistinctEffectsAsync());
    }

    internal static RelayHandle CreateRelay(MessagingScenario scenario, Microsoft.Extensions.Hosting.IHost host, IOptions<MessagingOptions> options) =>
        new(new OutboxRelay(
            new MySqlDataSource(scenario.DatabaseConnectionString),
            host.Services.GetRequiredService<RabbitMQConnectionProvider>(),
            options,
            host.Services.GetRequiredService<MessagingTelemetry>(),
            new OutboxSignal(),
            TimeProvider.System,
            NullLogger<OutboxRelay>.Instance));

    internal sealed class RelayHandle(OutboxRelay relay) : IAsyncDisposable
    {
        public OutboxRelay Relay => relay;

        public async ValueTask DisposeAsync()
        {
            await relay.StopAsync(default);
            relay.Dispose();
        }
    }

    /// <summary>The test-only relay executable (tests/Bazaar.Messaging.Probe) as a real OS process over the scenario's database and broker.</summary>
    private sealed class RelayProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();

        private RelayProcess(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is { } line)
                {
                    _lines.Writer.TryWrite(line);
                }
            };
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { } line)
                {
                    _lines.Writer.TryWrite("stderr: " + line);
                }
            };
        }

        public static RelayProcess Start(MessagingScenario scenario, bool holdAfterConfirm)
        {
            var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            // From its own output folder, with the files its own deps.json names: this folder holds what the tests
            // resolved, which may lack a package file the probe's resolution chose (a Microsoft.Extensions package newer
            // than the installed shared framework).
            info.ArgumentList.Add(typeof(IdempotencyTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .Single(attribute => attribute.Key == "MessagingProbePath").Value!);
            foreach (var argument in new[] { "--database", scenario.DatabaseConnectionString, "--broker", scenario.RabbitMqConnectionString, "--prefix", scenario.Prefix })
            {
                info.ArgumentList.Add(argument);
            }

            if (holdAfterConfirm)
            {
                info.ArgumentList.Add("--hold-after-confirm");
            }

            var relay = new RelayProcess(new Process { StartInfo = info });
            relay._process.Start();
            relay._process.BeginOutputReadLine();
            relay._process.BeginErrorReadLine();
            return relay;
        }

        /// <summary>The next line of its output that <paramref name="matches"/>; fails if it exits or stays silent first.</summary>
        public async Task<string> NextLineAsync(Func<string, bool> matches, TimeSpan timeout)
        {
            using var deadline = new CancellationTokenSource(timeout);
            var seen = new List<string>();
            try
            {
                while (true)
                {
                    var line = await _lines.Reader.ReadAsync(deadline.Token);
                    if (matches(line))
                    {
                        return line;
                    }

                    seen.Add(line);
                }
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"The relay process (exited: {_process.HasExited}) printed no matching line in {timeout.TotalSeconds:F0} s; it printed:\n{string.Join('\n', seen)}");
            }
        }

        /// <summary>Kills it with SIGKILL (what Process.Kill sends on Unix): no shutdown code runs; returns its exit code.</summary>
        public async Task<int> KillAsync()
        {
            _process.Kill();
            await _process.WaitForExitAsync();
            return _process.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                await KillAsync();
            }

            _process.Dispose();
        }
    }
}
