using Bazaar.Data;
using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Ordering;
using Bazaar.Order.Api.Placement;
using Bazaar.Order.Api.Streaming;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Bazaar.Order.Api;

public static class OrderApiExtensions
{
    public const string DatabaseName = "orderdb";
    public const string CacheName = "cache";
    public const string MessagingName = "messaging";

    public static WebApplicationBuilder AddOrderApi(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddMySqlDataSource(DatabaseName);
        builder.AddMigrations(typeof(OrderApiExtensions).Assembly, DatabaseName);
        builder.AddRedisClient(CacheName);
        builder.AddRabbitMQClient(MessagingName);
        // Orders and their events commit together (outbox; the relay here publishes them); status changes come back
        // through this service's queue and fan out to every replica's SSE streams over Redis.
        builder.AddMessaging(DatabaseName, options => options.ServiceName = string.IsNullOrEmpty(options.ServiceName) ? "order-api" : options.ServiceName)
            .AddOutbox()
            .AddConsumer<OrderStatusChanged, OrderStatusChangedHandler>();
        builder.AddDefaultAuthentication();

        builder.Services.AddOptions<CatalogClientOptions>().BindConfiguration(CatalogClientOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<PlacementLimitOptions>().BindConfiguration(PlacementLimitOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<TransactionBatcherOptions>(PlacementWriter.OptionsName).BindConfiguration(PlacementWriter.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<OrderStreamOptions>().BindConfiguration(OrderStreamOptions.SectionName)
            .Validate(o => o.HeartbeatInterval > TimeSpan.Zero && o.PollInterval > TimeSpan.Zero && !string.IsNullOrWhiteSpace(o.Channel),
                "Orders:Stream needs a channel and positive intervals.")
            .ValidateOnStart();

        builder.Services.AddOptions<PlacementPaceOptions>().BindConfiguration(PlacementPaceOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<OrderLedger>();
        builder.Services.AddSingleton<OrderStatusHints>();
        builder.Services.AddSingleton<OrderReads>();
        builder.Services.AddSingleton<CatalogCircuit>();
        builder.Services.AddSingleton<PlacementLimiter>();
        builder.Services.AddSingleton<OrderStatusHub>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OrderStatusHub>());
        builder.Services.AddSingleton<PlacementWriter>();
        builder.Services.AddSingleton<PlacementPace>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PlacementPace>());
        RelayHold.Register(builder.Services, sp =>
        {
            var pace = sp.GetRequiredService<PlacementPace>();
            var options = sp.GetRequiredService<IOptions<RelayHoldOptions>>();
            return () => pace.RecentLocal >= options.Value.PeakPlacements;
        });
        builder.Services.AddTransient<OrderPlacement>();
#pragma warning disable EXTEXP0001 // experimental in Microsoft.Extensions.Http.Resilience 11; the documented way to opt one client out
        builder.Services.AddHttpClient<CatalogPrices>().RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        return builder;
    }

    public static WebApplication MapOrderApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGroup("/api/orders")
            .WithTags("Orders")
            .MapOrdersApi()
            .MapOrderEventsApi();
        return app;
    }
}
