using Bazaar.Data;
using Bazaar.Data.Migrations;
using Bazaar.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MySqlConnector;

namespace Microsoft.Extensions.Hosting;

public static class MessagingExtensions
{
    /// <summary>
    /// Integration events over the RabbitMQ connection registered by Aspire's <c>AddRabbitMQClient</c>, with the outbox and inbox
    /// tables in the database registered by <c>AddMySqlDataSource(connectionName)</c> (created by migration at start).
    /// Options bind from <c>Bazaar:Messaging</c>. Continue with <see cref="MessagingBuilder.AddOutbox"/> to publish and
    /// <see cref="MessagingBuilder.AddConsumer{TEvent, THandler}"/> to consume.
    /// </summary>
    public static MessagingBuilder AddMessaging(this IHostApplicationBuilder builder, string connectionName, Action<MessagingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionName);

        var defaultServiceName = (builder.Configuration["OTEL_SERVICE_NAME"] ?? builder.Environment.ApplicationName).ToLowerInvariant();
        builder.Services.AddOptions<MessagingOptions>()
            .BindConfiguration("Bazaar:Messaging")
            .Configure(options => configure?.Invoke(options))
            .PostConfigure(options =>
            {
                if (string.IsNullOrWhiteSpace(options.ServiceName))
                {
                    options.ServiceName = defaultServiceName;
                }

                if (options.RetryDelays.Length == 0)
                {
                    options.RetryDelays = MessagingOptions.DefaultRetryDelays;
                }
            })
            .ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MessagingOptions>, MessagingOptionsValidator>());
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton<MessagingTelemetry>();
        builder.Services.TryAddSingleton(sp => new RabbitMQConnectionProvider(
            sp.GetRequiredService<RabbitMQ.Client.IConnection>, sp.GetRequiredService<ILogger<RabbitMQConnectionProvider>>()));
        builder.Services.TryAddSingleton<DeadLetterStore>();
        builder.AddMigrations(connectionName, "Bazaar.Messaging", Migration.FromAssembly(typeof(MessagingExtensions).Assembly));
        return new MessagingBuilder(builder, connectionName);
    }
}

/// <summary>Adds publishing and consuming to a service; returned by <c>AddMessaging</c>.</summary>
public sealed class MessagingBuilder
{
    private readonly HandlerRegistry _registry = new();
    private bool _consumerAdded;
    private bool _outboxAdded;

    internal MessagingBuilder(IHostApplicationBuilder builder, string connectionName)
    {
        Builder = builder;
        ConnectionName = connectionName;
    }

    public IHostApplicationBuilder Builder { get; }

    public string ConnectionName { get; }

    /// <summary>
    /// Registers <see cref="IOutbox"/>, the relay that publishes it (a hosted service in this process, next to the
    /// database it reads), and a health check named "{connectionName}-outbox" that is Degraded when the backlog is old.
    /// </summary>
    public MessagingBuilder AddOutbox()
    {
        if (_outboxAdded)
        {
            return this;
        }

        _outboxAdded = true;
        var services = Builder.Services;
        services.TryAddSingleton<OutboxSignal>();
        services.TryAddSingleton<IOutbox, Outbox>();
        services.AddHostedService(sp => new OutboxRelay(
            DataSource(sp),
            sp.GetRequiredService<RabbitMQConnectionProvider>(),
            sp.GetRequiredService<IOptions<MessagingOptions>>(),
            sp.GetRequiredService<MessagingTelemetry>(),
            sp.GetRequiredService<OutboxSignal>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<OutboxRelay>>())
        {
            AfterPublishBeforeMark = sp.GetService<OutboxRelayTestPause>()?.AfterPublishBeforeMark,
            Throttle = sp.GetService<IRelayThrottle>(),
        });
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            ConnectionName + "-outbox",
            sp => new OutboxHealthCheck(DataSource(sp), sp.GetRequiredService<IOptions<MessagingOptions>>(), sp.GetRequiredService<TimeProvider>()),
            failureStatus: null,
            tags: ["ready", "messaging"]));
        return this;
    }

    /// <summary>Handles <typeparamref name="TEvent"/> with <typeparamref name="THandler"/> (scoped) from this service's queue.</summary>
    /// <param name="alone">
    /// Each message in a transaction of its own, never in a batch (<see cref="MessagingOptions.ConsumerBatchSize"/>): for a
    /// handler that waits on a call outside this process that can take long (a payment provider), since a batch runs its
    /// handlers one after another and would hold every other message in it for that call.
    /// </param>
    public MessagingBuilder AddConsumer<TEvent, THandler>(bool alone = false)
        where TEvent : IIntegrationEvent
        where THandler : class, IIntegrationEventHandler<TEvent>
    {
        _registry.Add(HandlerRegistration.For<TEvent, THandler>(alone));
        Builder.Services.TryAddScoped<THandler>();
        if (!_consumerAdded)
        {
            _consumerAdded = true;
            Builder.Services.AddSingleton(sp => new EventConsumerHost(
                sp,
                DataSource(sp),
                sp.GetRequiredService<RabbitMQConnectionProvider>(),
                _registry,
                sp.GetRequiredService<IOptions<MessagingOptions>>(),
                sp.GetRequiredService<MessagingTelemetry>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<EventConsumerHost>>()));
            Builder.Services.AddHostedService(sp => sp.GetRequiredService<EventConsumerHost>());
        }

        return this;
    }

    private MySqlDataSource DataSource(IServiceProvider services) => services.GetRequiredKeyedService<MySqlDataSource>(ConnectionName);
}
