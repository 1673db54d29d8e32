using Bazaar.Caching;
using Bazaar.Catalog.Api.Apis;
using Bazaar.Catalog.Api.Data;
using Bazaar.Catalog.Api.Hosting;
using Bazaar.Catalog.Api.Stock;
using Bazaar.ServiceDefaults.Authentication;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bazaar.Catalog.Api;

internal static class CatalogApiExtensions
{
    public const string DatabaseName = "catalogdb";
    public const string CacheName = "cache";
    public const string MessagingName = "messaging";

    public static WebApplicationBuilder AddCatalogApi(this WebApplicationBuilder builder)
    {
        builder.AddMySqlDataSource(DatabaseName);
        builder.AddMigrations(typeof(CatalogApiExtensions).Assembly, DatabaseName);
        // Every change announces itself through the outbox in its own transaction; the relay here publishes it.
        builder.AddRabbitMQClient(MessagingName);
        builder.AddMessaging(DatabaseName).AddOutbox();
        if (!string.IsNullOrEmpty(builder.Configuration.GetConnectionString(CacheName)))
        {
            // The catalog works without Redis (L1 + MySQL), so its outage is Degraded (the "cache-levels" check), not Unhealthy.
            builder.AddRedisClient(CacheName, settings => settings.DisableHealthChecks = true);
        }

        builder.AddTwoLevelCache(options => options.KeyPrefix = builder.Configuration["Caching:KeyPrefix"] ?? "catalog:");

        builder.Services.AddOptions<CatalogOptions>()
            .BindConfiguration(CatalogOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<CatalogDatabase>();
        builder.Services.AddSingleton<CatalogStore>();
        builder.Services.AddSingleton<CatalogReads>();
        builder.Services.AddSingleton<HighestProductId>();
        builder.Services.AddSingleton<StockLedger>();
        builder.Services.AddHostedService<CatalogSeeder>();
        builder.Services.AddHostedService<ReservationExpirySweeper>();
        builder.Services.AddHostedService<HighestProductIdRefresher>();

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(StockReservationsApi.Policy, policy => policy.RequireAuthenticatedUser()
                .RequireRole(AuthenticationConventions.ServiceRole, AuthenticationConventions.AdminRole));
        return builder;
    }

    public static WebApplication MapCatalogApi(this WebApplication app)
    {
        app.MapGroup("/api/catalog")
            .WithTags("Catalog")
            .MapCatalogItemsApi()
            .MapCatalogTaxonomyApi()
            .MapStockReservationsApi();
        return app;
    }
}
