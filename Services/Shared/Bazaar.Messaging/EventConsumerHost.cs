using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Bazaar.Data;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Bazaar.Messaging;

/// <summary>
/// Consumes this service's queue with bounded prefetch and concurrency. Each message runs its handler in one transaction
/// together with the inbox insert (a redelivered event hits the inbox key and becomes a no-op), and is acknowledged
/// only after that transaction commits. A failing handler sends the message to the next retry queue, and after the
/// last one to the dead-letter queue; a message that cannot be read goes to the dead-letter queue at once.
/// On shutdown it stops taking messages and lets in-flight ones finish; those still running when the host's shutdown
/// timeout ends are cancelled, rolled back and returned to the queue.
/// </summary>
internal sealed partial class EventConsumerHost : BackgroundService
{
    private static readonly SqlStatement InsertInbox = new("inbox.insert", """
        INSERT INTO inbox (consumer, event_id, event_type, handled_at) VALUES (@consumer, @eventId, @eventType, @handledAt)
        """);

    private static readonly SqlStatement DeleteOldInbox = new("inbox.delete_old", """
        DELETE FROM inbox WHERE handled_at < @before LIMIT 1000
        """);

    private readonly IServiceProvider _services;
    private readonly MySqlDataSource _dataSource;
    private readonly RabbitMQConnectionProvider _connectionProvider;
    private readonly HandlerRegistry _registry;
    private readonly MessagingOptions _options;
    private readonly MessagingTopology _topology;
    private readonly MessagingTelemetry _telemetry;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly ConfirmingPublisher _publisher;
    private readonly CancellationTokenSource _abortInFlight = new();
    private IChannel? _channel;
    private string? _consumerTag;
    private int _inFlight;

    public EventConsumerHost(
        IServiceProvider services,
        MySqlDataSource dataSource,
        RabbitMQConnectionProvider connectionProvider,
        HandlerRegistry registry,
        IOptions<MessagingOptions> options,
        MessagingTelemetry telemetry,
        TimeProvider timeProvider,
        ILogger<EventConsumerHost> logger)
    {
        _services = services;
        _dataSource = dataSource;
        _connectionProvider = connectionProvider;
        _registry = registry;
        _options = options.Value;
        _topology = MessagingTopology.From(_options);
        _telemetry = telemetry;
        _timeProvider = timeProvider;
        _logger = logger;
        _publisher = new ConfirmingPublisher(connectionProvider, exchange: "");
    }

    /// <summary>Completes once the queues are declared and the consumer is registered with the broker.</summary>
    internal Task Ready => _ready.Task;

    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await StartConsumingAsync(stoppingToken).ConfigureAwait(false);
        var nextCleanup = _timeProvider.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (_timeProvider.GetUtcNow() >= nextCleanup)
                {
                    nextCleanup = _timeProvider.GetUtcNow() + _options.CleanupInterval;
                    await DeleteOldInboxRowsAsync(stoppingToken).ConfigureAwait(false);
                }

                await Task.Delay(_options.CleanupInterval, _timeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception)
            {
                LogCleanupFailed(_logger, exception);
            }
        }
    }

    private async Task StartConsumingAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var connection = await _connectionProvider.GetConnectionAsync(stoppingToken).ConfigureAwait(false);
                var channel = await connection.CreateChannelAsync(
                    new CreateChannelOptions(false, false, consumerDispatchConcurrency: (ushort)_options.MaxConcurrency), stoppingToken).ConfigureAwait(false);
                await _topology.DeclareAsync(channel, _registry.EventTypes, stoppingToken).ConfigureAwait(false);
                await channel.BasicQosAsync(0, _options.PrefetchCount, global: false, stoppingToken).ConfigureAwait(false);
                var consumer = new AsyncEventingBasicConsumer(channel);
                consumer.ReceivedAsync += OnReceivedAsync;
                _channel = channel;
                _consumerTag = await channel.BasicConsumeAsync(_topology.Queue, autoAck: false, consumer, stoppingToken).ConfigureAwait(false);
                LogConsuming(_logger, _topology.Queue, string.Join(", ", _registry.EventTypes));
                _ready.TrySetResult();
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                LogStartFailed(_logger, exception, _topology.Queue, backoff);
                await Task.Delay(backoff, _timeProvider, stoppingToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private async Task OnReceivedAsync(object sender, BasicDeliverEventArgs delivery)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            await HandleDeliveryAsync(((AsyncEventingBasicConsumer)sender).Channel, delivery).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task HandleDeliveryAsync(IChannel channel, BasicDeliverEventArgs delivery)
    {
        EventEnvelope envelope;
        HandlerRegistration registration;
        object payload;
        try
        {
            envelope = EventEnvelope.FromUtf8Bytes(delivery.Body.Span);
            registration = _registry.Find(envelope.Type)
                ?? throw new JsonException($"No handler for event type '{envelope.Type}' in {_topology.Queue}.");
            payload = registration.ReadPayload(envelope);
        }
        catch (Exception exception) when (exception is JsonException or NotSupportedException or InvalidOperationException)
        {
            await DeadLetterAsync(channel, delivery, $"Poison message, cannot be read: {exception.Message}", attempts: 0).ConfigureAwait(false);
            return;
        }

        var attempt = MessageHeaders.GetInt(delivery.BasicProperties.Headers, MessageHeaders.Attempt);
        using var activity = MessagingTelemetry.Source.StartActivity(
            $"{envelope.Type} process", ActivityKind.Consumer, MessageHeaders.ExtractParent(delivery.BasicProperties.Headers));
        activity?.SetTag("messaging.system", "rabbitmq");
        activity?.SetTag("messaging.operation.type", "process");
        activity?.SetTag("messaging.destination.name", _topology.Queue);
        activity?.SetTag("messaging.message.id", envelope.Id.ToString());
        activity?.SetTag("bazaar.messaging.attempt", attempt);

        bool firstTime;
        try
        {
            firstTime = await _dataSource.InTransactionAsync(async (connection, transaction, token) =>
            {
                try
                {
                    await connection.ExecuteAsync(InsertInbox, new
                    {
                        consumer = _topology.Queue,
                        eventId = envelope.Id.ToString(),
                        eventType = envelope.Type,
                        handledAt = _timeProvider.GetUtcNow().UtcDateTime,
                    }, transaction, token).ConfigureAwait(false);
                }
                catch (Exception exception) when (TransientErrors.IsUniqueViolation(exception))
                {
                    return false;
                }

                await using var scope = _services.CreateAsyncScope();
                await registration.Handle(scope.ServiceProvider, payload, new EventContext(envelope, connection, transaction, attempt), token).ConfigureAwait(false);
                return true;
            }, _abortInFlight.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abortInFlight.IsCancellationRequested)
        {
            await SettleAsync(() => channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true)).ConfigureAwait(false);
            return;
        }
        catch (Exception exception)
        {
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity?.SetTag("error.type", exception.GetType().FullName);
            await RetryOrDeadLetterAsync(channel, delivery, envelope, attempt, exception).ConfigureAwait(false);
            return;
        }

        _telemetry.Consumed.Add(1, new("messaging.destination.name", _topology.Queue), new("bazaar.messaging.duplicate", !firstTime));
        if (!firstTime)
        {
            LogDuplicate(_logger, envelope.Id, envelope.Type);
        }

        await SettleAsync(() => channel.BasicAckAsync(delivery.DeliveryTag, multiple: false)).ConfigureAwait(false);
    }

    private async Task RetryOrDeadLetterAsync(IChannel channel, BasicDeliverEventArgs delivery, EventEnvelope envelope, int attempt, Exception exception)
    {
        // The database being unreachable (after the data source's own retries) is not the handler's fault: wait on the
        // retry path without spending the message's budget, so an outage does not fill the dead-letter queue.
        var infrastructure = TransientErrors.IsTransient(exception) && _topology.RetryDelays.Count > 0;
        if (attempt >= _topology.RetryDelays.Count && !infrastructure)
        {
            LogGaveUp(_logger, exception, envelope.Id, envelope.Type, attempt + 1);
            await DeadLetterAsync(channel, delivery, $"Handler failed {attempt + 1} time(s); last error: {Describe(exception)}", attempt + 1).ConfigureAwait(false);
            return;
        }

        var headers = MessageHeaders.Copy(delivery.BasicProperties.Headers);
        var nextAttempt = infrastructure ? attempt : attempt + 1;
        var delayIndex = Math.Min(attempt, _topology.RetryDelays.Count - 1);
        headers[MessageHeaders.Attempt] = nextAttempt;
        headers[MessageHeaders.LastError] = Describe(exception);
        var retryQueue = _topology.RetryQueue(delayIndex);
        LogRetrying(_logger, exception, envelope.Id, envelope.Type, attempt + 1, _topology.RetryDelays[delayIndex]);
        if (await RepublishAsync(delivery, "", retryQueue, headers).ConfigureAwait(false))
        {
            _telemetry.Retried.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", _topology.Queue));
            await SettleAsync(() => channel.BasicAckAsync(delivery.DeliveryTag, multiple: false)).ConfigureAwait(false);
        }
        else
        {
            await SettleAsync(() => channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true)).ConfigureAwait(false);
        }
    }

    private async Task DeadLetterAsync(IChannel channel, BasicDeliverEventArgs delivery, string reason, int attempts)
    {
        var headers = MessageHeaders.Copy(delivery.BasicProperties.Headers);
        headers[MessageHeaders.DeadLetterReason] = reason;
        headers[MessageHeaders.DeadLetteredAt] = _timeProvider.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        headers[MessageHeaders.OriginalQueue] = _topology.Queue;
        headers[MessageHeaders.Attempt] = attempts;
        if (await RepublishAsync(delivery, "", _topology.DeadLetterQueue, headers).ConfigureAwait(false))
        {
            _telemetry.DeadLettered.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", _topology.Queue));
            LogDeadLettered(_logger, delivery.BasicProperties.MessageId, _topology.DeadLetterQueue, reason);
            await SettleAsync(() => channel.BasicAckAsync(delivery.DeliveryTag, multiple: false)).ConfigureAwait(false);
        }
        else
        {
            await SettleAsync(() => channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true)).ConfigureAwait(false);
        }
    }

    // The copy is confirmed before the original is acknowledged, so a failure in between duplicates rather than loses.
    private async Task<bool> RepublishAsync(BasicDeliverEventArgs delivery, string exchange, string routingKey, Dictionary<string, object?> headers)
    {
        var properties = new BasicProperties(delivery.BasicProperties) { Headers = headers, DeliveryMode = DeliveryModes.Persistent };
        try
        {
            await _publisher.PublishAsync(exchange, routingKey, properties, delivery.Body, CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (Exception exception)
        {
            LogRepublishFailed(_logger, exception, routingKey);
            return false;
        }
    }

    // The channel may be gone (broker restart): the broker then redelivers and the inbox absorbs the repeat.
    private async Task SettleAsync(Func<ValueTask> settle)
    {
        try
        {
            await settle().ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            LogSettleFailed(_logger, exception);
        }
    }

    private async Task DeleteOldInboxRowsAsync(CancellationToken cancellationToken)
    {
        var before = (_timeProvider.GetUtcNow() - _options.Retention).UtcDateTime;
        int deleted;
        do
        {
            deleted = await _dataSource.WithConnectionAsync(
                (connection, token) => connection.ExecuteAsync(DeleteOldInbox, new { before }, cancellationToken: token), cancellationToken).ConfigureAwait(false);
        }
        while (deleted == 1000);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true } channel && _consumerTag is { } tag)
        {
            try
            {
                await channel.BasicCancelAsync(tag, noWait: false, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogSettleFailed(_logger, exception);
            }
        }

        try
        {
            await WaitForIdleAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await _abortInFlight.CancelAsync().ConfigureAwait(false);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await WaitForIdleAsync(grace.Token).ConfigureAwait(false);
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_channel is { } open)
        {
            try
            {
                await open.CloseAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                LogSettleFailed(_logger, exception);
            }

            await open.DisposeAsync().ConfigureAwait(false);
        }

        await _publisher.DisposeAsync().ConfigureAwait(false);
    }

    private async Task WaitForIdleAsync(CancellationToken cancellationToken)
    {
        while (Volatile.Read(ref _inFlight) > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10), cancellationToken).ConfigureAwait(false);
        }
    }

    public override void Dispose()
    {
        _abortInFlight.Dispose();
        base.Dispose();
    }

    private static string Describe(Exception exception)
    {
        var text = $"{exception.GetType().Name}: {exception.Message}";
        return text.Length <= 1000 ? text : text[..1000];
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Consuming {Queue} for {EventTypes}")]
    private static partial void LogConsuming(ILogger logger, string queue, string eventTypes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot start consuming {Queue}; retrying in {Backoff}")]
    private static partial void LogStartFailed(ILogger logger, Exception exception, string queue, TimeSpan backoff);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Event {EventId} ({EventType}) was handled before; acknowledged without running the handler")]
    private static partial void LogDuplicate(ILogger logger, Guid eventId, string eventType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Handling event {EventId} ({EventType}) failed (attempt {Attempt}); retrying in {Delay}")]
    private static partial void LogRetrying(ILogger logger, Exception exception, Guid eventId, string eventType, int attempt, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling event {EventId} ({EventType}) failed {Attempts} time(s); giving up")]
    private static partial void LogGaveUp(ILogger logger, Exception exception, Guid eventId, string eventType, int attempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Message {MessageId} dead-lettered to {DeadLetterQueue}: {Reason}")]
    private static partial void LogDeadLettered(ILogger logger, string? messageId, string deadLetterQueue, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not republish a message to {RoutingKey}; returning it to the queue")]
    private static partial void LogRepublishFailed(ILogger logger, Exception exception, string routingKey);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Acknowledging or cancelling on the broker failed; the broker will redeliver")]
    private static partial void LogSettleFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting old inbox rows failed")]
    private static partial void LogCleanupFailed(ILogger logger, Exception exception);
}
