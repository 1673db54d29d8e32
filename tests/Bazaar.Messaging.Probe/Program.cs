// Test-only relay process: runs one outbox relay over the database and broker it is given. With --hold-after-confirm it
// stops after the broker confirmed its first batch and before marking it sent (rows still locked), prints
// "held <rows>", and waits there until it is killed. Used by the relay-crash test; see IdempotencyTests.
using Bazaar.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

string Argument(string name) =>
    args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? throw new ArgumentException($"{name} is required");

var hold = args.Contains("--hold-after-confirm");
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Testing" });
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    ["ConnectionStrings:db"] = Argument("--database"),
    ["ConnectionStrings:messaging"] = Argument("--broker"),
});
builder.AddMySqlDataSource("db");
builder.AddRabbitMQClient("messaging");
builder.AddMessaging("db", o =>
{
    o.Prefix = Argument("--prefix");
    o.ServiceName = "probe";
    o.RelayPollInterval = TimeSpan.FromMilliseconds(50);
    o.RelayMaxBackoff = TimeSpan.FromMilliseconds(500);
}).AddOutbox();
if (hold)
{
    builder.Services.AddSingleton(new OutboxRelayTestPause(async (seqs, cancellationToken) =>
    {
        await Console.Out.WriteLineAsync($"held {seqs.Count}");
        await Console.Out.FlushAsync(cancellationToken);
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }));
}

using var host = builder.Build();
await host.StartAsync();
await Console.Out.WriteLineAsync("ready");
await Console.Out.FlushAsync();
await host.WaitForShutdownAsync();
