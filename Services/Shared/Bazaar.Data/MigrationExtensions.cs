using System.Reflection;
using Bazaar.Data.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.Hosting;

public static class MigrationExtensions
{
    /// <summary>
    /// Applies the <c>*.sql</c> files embedded from <paramref name="assembly"/>'s <c>Migrations/</c> folder to the database
    /// registered by <c>AddMySqlDataSource(connectionName)</c>, at start and before anything serves.
    /// </summary>
    public static IHostApplicationBuilder AddMigrations(this IHostApplicationBuilder builder, Assembly assembly, string connectionName, string folder = "Migrations")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(assembly);
        return builder.AddMigrations(connectionName, assembly.GetName().Name!, Migration.FromAssembly(assembly, folder));
    }

    /// <summary>Applies an explicit list of migrations, recorded under <paramref name="scope"/> (for libraries that own tables).</summary>
    public static IHostApplicationBuilder AddMigrations(this IHostApplicationBuilder builder, string connectionName, string scope, IReadOnlyList<Migration> migrations)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);
        builder.Services.AddSingleton(new MigrationSet(connectionName, scope, Migration.Order(migrations)));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MigrationHostedService>());
        return builder;
    }
}
