using Bazaar.Messaging;
using Bazaar.Order.Api.Ordering;
using Bazaar.Order.Api.Placement;
using Bazaar.Order.Api.Streaming;
using Bazaar.Worker.Callbacks;
using Bazaar.Worker.Catalog;
using Bazaar.Worker.Payments;
using Bazaar.Worker.Saga;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bazaar.Worker;

public static class WorkerExtensions
{
    public const string DatabaseName = "orderdb";
    public const string CacheName = "cache";
    public const string MessagingName = "messaging";

    public static WebApplicationBuilder AddWorker(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddMySqlDataSource(DatabaseName);
        // The orders tables belong to order-api; applying its migrations here too (under the same lock and history)
        // lets the worker start first without its steps failing on missing tables.
        builder.AddMigrations(typeof(OrderLedger).Assembly, DatabaseName);
        builder.AddMigrations(typeof(WorkerExtensions).Assembly, DatabaseName);
        builder.AddRedisClient(CacheName);
        builder.AddRabbitMQClient(MessagingName);
        builder.AddMessaging(DatabaseName, options =>
            {
                options.ServiceName = string.IsNullOrEmpty(options.ServiceName) ? "worker" : options.ServiceName;
                // Compensations are batched: with the default prefetch (64) a backlog of them fills two batches of 32 and
                // only two transactions run. Enough prefetch for every transaction to take a full batch keeps all of them
                // busy, and leaves room for the deliveries that finish behind a payment step still waiting.
                if (builder.Configuration["Bazaar:Messaging:PrefetchCount"] is null)
                {
                    options.PrefetchCount = (ushort)Math.Min(ushort.MaxValue, options.MaxConcurrency * options.ConsumerBatchSize);
                }
            })
            .AddOutbox()
            // A reserve step waits on the provider at most Payments:HandOverAfter, then hands the payment to a step that
            // runs alone (up to Payments:CallTimeout), so an order whose provider does not answer holds no other order
            // for long, while the usual quick payments keep sharing one transaction per batch.
            .AddConsumer<OrderSubmitted, ReserveStockStep>()
            .AddConsumer<OrderStockReserved, TakePaymentStep>(alone: true)
            .AddConsumer<OrderCancelled, ReleaseStockStep>();
        builder.AddDefaultAuthentication();

        builder.Services.AddOptions<SagaOptions>().BindConfiguration(SagaOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<PaymentOptions>().BindConfiguration(PaymentOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<CallbackOptions>().BindConfiguration(CallbackOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<SagaYieldOptions>().BindConfiguration(SagaYieldOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<PlacementPaceOptions>().BindConfiguration(PlacementPaceOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<ServiceAuthOptions>().BindConfiguration(ServiceAuthOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        // The saga's moves hint order-api's status streams over Redis on this channel (the same setting as order-api's).
        builder.Services.AddOptions<OrderStreamOptions>().BindConfiguration(OrderStreamOptions.SectionName)
            .Validate(o => !string.IsNullOrWhiteSpace(o.Channel), "Orders:Stream:Channel must name a channel.").ValidateOnStart();

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<OrderLedger>();
        builder.Services.AddSingleton<OrderStatusHints>();
        builder.Services.AddSingleton<SimulatedPaymentProvider>();
        builder.Services.AddTransient<Payment>();
        builder.Services.AddSingleton<ServiceTokenSource>();
        builder.Services.AddTransient<ServiceTokenHandler>();
        builder.Services.AddHttpClient(ServiceTokenSource.HttpClientName);
        builder.Services.AddHttpClient<StockClient>(StockClient.HttpClientName, http => http.BaseAddress = new Uri(builder.Configuration["Catalog:BaseAddress"] ?? "http://catalog-api"))
            .AddHttpMessageHandler<ServiceTokenHandler>();
        // The dispatcher retries on its own schedule and records each attempt, so the standard retries would only hide them.
#pragma warning disable EXTEXP0001 // experimental in Microsoft.Extensions.Http.Resilience 11; the documented way to opt one client out
        builder.Services.AddHttpClient(CallbackDispatcher.HttpClientName).RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        builder.Services.AddSingleton<SagaYield>();
        builder.Services.AddSingleton<IConsumerThrottle>(sp => sp.GetRequiredService<SagaYield>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SagaYield>());
        RelayHold.Register(builder.Services, sp =>
        {
            var saga = sp.GetRequiredService<SagaYield>();
            return () => saga.IsYielding;
        });
        builder.Services.AddHostedService<PaymentTimeoutSweeper>();
        builder.Services.AddHostedService<CallbackDispatcher>();
        return builder;
    }

    public static WebApplication MapWorker(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapDeadLetterEndpoints();
        return app;
    }
}
