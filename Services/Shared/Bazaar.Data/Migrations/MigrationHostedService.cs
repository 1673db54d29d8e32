using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace Bazaar.Data.Migrations;

/// <summary>A set of migrations for one database, registered by <c>AddMigrations</c>.</summary>
internal sealed record MigrationSet(string ConnectionName, string Scope, IReadOnlyList<Migration> Migrations);

/// <summary>
/// Runs every registered migration set in <see cref="IHostedLifecycleService.StartingAsync"/>, that is before any hosted
/// service starts (outbox relay, consumers) and before the server accepts requests. A failure stops the start.
/// </summary>
internal sealed class MigrationHostedService(IServiceProvider services, IEnumerable<MigrationSet> sets, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        foreach (var set in sets)
        {
            var dataSource = services.GetRequiredKeyedService<MySqlDataSource>(set.ConnectionName);
            var runner = new MigrationRunner(dataSource, loggerFactory.CreateLogger<MigrationRunner>(), timeProvider);
            await runner.RunAsync(set.Scope, set.Migrations, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
