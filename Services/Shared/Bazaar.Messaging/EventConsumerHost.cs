using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using System.Text.Json;
using Bazaar.Data;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using MySqlConnector;

namespace Bazaar.Messaging;

/// <summary>
/// Consumes this service's queue with bounded prefetch and concurrency. Each message runs its handler in one transaction
/// together with the inbox insert (a redelivered event hits the inbox key and becomes a no-op), and is acknowledged
/// only after that transaction commits. Messages that wait together share one transaction (up to ConsumerBatchSize),
/// so one commit, and its disk flush, serves them all, and one ack frame (multiple) covers them once every earlier
/// delivery is finished too (<see cref="DeliveryAcknowledger"/>); if any of them fails the batch rolls back and each is handled
/// alone, so what follows is decided per message. A failing handler sends the message to the next retry queue, and
/// after the last one to the dead-letter queue; a message that cannot be read goes to the dead-letter queue at once.
/// A message that bundles several events (<see cref="EventBundle"/>) becomes one delivery per event, each handled,
/// retried and dead-lettered as if it had come alone; the message is acked once all of them are settled.
/// On shutdown it stops taking messages and lets in-flight ones finish; those still running when the host's shutdown
/// timeout ends are cancelled, rolled back and returned to the queue.
/// </summary>
internal sealed partial class EventConsumerHost : BackgroundService
{
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
    private readonly IConsumerThrottle? _throttle;
    private readonly CancellationTokenSource _abortInFlight = new();
    private readonly CancellationTokenSource _stopDeadline = new();
    private readonly Lock _stopGate = new();
    private readonly Channel<Delivery> _received = Channel.CreateUnbounded<Delivery>(new UnboundedChannelOptions { SingleWriter = true });
    private Task[] _workers = [];
    private IChannel? _channel;
    private DeliveryAcknowledger _acks = new((_, _, _) => ValueTask.CompletedTask, holdLimit: 1);
    private string? _consumerTag;
    private int _inFlight;
    private Task? _stopping;

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
        // One per worker, kept open: a pooled open per transaction cost three round trips (ping, default database,
        // session SET) beside the transaction's own.
        _topology = MessagingTopology.From(_options);
        _telemetry = telemetry;
        _timeProvider = timeProvider;
        _logger = logger;
        _publisher = new ConfirmingPublisher(connectionProvider, exchange: "");
        _throttle = services.GetService<IConsumerThrottle>();
    }

    /// <summary>Completes once the queues are declared and the consumer is registered with the broker.</summary>
    internal Task Ready => _ready.Task;

    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Deliveries received and waiting for a worker (for tests).</summary>
    internal int Waiting => _received.Reader.Count;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _workers = Enumerable.Range(0, _options.MaxConcurrency).Select(_ => Task.Run(ProcessAsync, CancellationToken.None)).ToArray();
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
                    new CreateChannelOptions(false, false, consumerDispatchConcurrency: 1), stoppingToken).ConfigureAwait(false);
                await _topology.DeclareAsync(channel, _registry.EventTypes, stoppingToken).ConfigureAwait(false);
                await channel.BasicQosAsync(0, _options.PrefetchCount, global: false, stoppingToken).ConfigureAwait(false);
                var consumer = new AsyncEventingBasicConsumer(channel);
                consumer.ReceivedAsync += OnReceivedAsync;
                _channel = channel;
                _acks = new DeliveryAcknowledger(
                    (tag, multiple, token) => channel.BasicAckAsync(tag, multiple, token), holdLimit: Math.Max(1, _options.PrefetchCount / 2));
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

    // Called one delivery at a time (dispatch concurrency 1), so the queue sees them in broker order. Poison is settled
    // here; the rest waits for a worker, which may take several at once into one transaction.
    private async Task OnReceivedAsync(object sender, BasicDeliverEventArgs delivery)
    {
        _acks.Register(delivery.DeliveryTag);
        // The client lends the body only for the length of this call; the message lives on in the queue.
        var received = new Received(((AsyncEventingBasicConsumer)sender).Channel, delivery.DeliveryTag, delivery.BasicProperties, delivery.Body.ToArray());
        if (received.Properties.ContentType != EventBundle.ContentType)
        {
            await AcceptAsync(received).ConfigureAwait(false);
            return;
        }

        IReadOnlyList<EventBundle.Entry> entries;
        try
        {
            entries = EventBundle.Read(received.Body);
        }
        catch (JsonException exception)
        {
            Interlocked.Increment(ref _inFlight);
            try
            {
                await DeadLetterAsync(received, $"Poison message, cannot be read: {exception.Message}", attempts: 0).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }

            return;
        }

        // One delivery per event, each with the message's headers and its own trace context; the message is settled
        // once all of them are (BundleDelivery).
        var bundle = new BundleDelivery(entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var headers = MessageHeaders.Copy(received.Properties.Headers);
            headers.Remove(MessageHeaders.TraceParent);
            headers.Remove(MessageHeaders.TraceState);
            MessageHeaders.Inject(headers, null, entries[i].TraceParent, entries[i].TraceState);
            var properties = new BasicProperties(received.Properties)
            {
                ContentType = "application/json",
                MessageId = $"{received.Properties.MessageId}/{i}",
                Headers = headers,
            };
            await AcceptAsync(new Received(received.Channel, received.DeliveryTag, properties, entries[i].Envelope, bundle)).ConfigureAwait(false);
        }
    }

    // Reads one event and queues it for a worker; poison is dead-lettered here.
    private async Task AcceptAsync(Received received)
    {
        Interlocked.Increment(ref _inFlight);
        var settled = true;
        try
        {
            EventEnvelope envelope;
            HandlerRegistration registration;
            object payload;
            try
            {
                envelope = EventEnvelope.FromUtf8Bytes(received.Body.Span);
                registration = _registry.Find(envelope.Type)
                    ?? throw new JsonException($"No handler for event type '{envelope.Type}' in {_topology.Queue}.");
                payload = registration.ReadPayload(envelope);
            }
            catch (Exception exception) when (exception is JsonException or NotSupportedException or InvalidOperationException)
            {
                await DeadLetterAsync(received, $"Poison message, cannot be read: {exception.Message}", attempts: 0).ConfigureAwait(false);
                return;
            }

            if (received.Bundle is not null && received.Properties is BasicProperties properties)
            {
                properties.MessageId = envelope.Id.ToString();
            }

            var attempt = MessageHeaders.GetInt(received.Properties.Headers, MessageHeaders.Attempt);
            if (_received.Writer.TryWrite(new Delivery(received, envelope, registration, payload, attempt)))
            {
                settled = false;
            }
            else
            {
                // Stopping: the workers are gone; the broker gives it to the next consumer.
                await ReturnAsync(received).ConfigureAwait(false);
            }
        }
        finally
        {
            if (settled)
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }
    }

    private async Task ProcessAsync()
    {
        var batch = new List<Delivery>(_options.ConsumerBatchSize);
        var reader = _received.Reader;
        Delivery? alone = null;
        while (true)
        {
            if (alone is not null)
            {
                // Taken while gathering the previous batch: it runs in a transaction of its own.
                batch.Add(alone);
                alone = null;
            }
            else
            {
                // ReadAsync hands each delivery to one idle worker. WaitToReadAsync would wake every idle worker for each
                // delivery, all but one to find nothing: with 16 workers, most of the consumer's CPU went to thread switches.
                try
                {
                    batch.Add(await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false));
                }
                catch (ChannelClosedException)
                {
                    break;
                }
            }

            // A handler registered alone waits on slow calls, not on the CPU: it would hold the turn while it waits.
            ConsumerTurn turn = batch[0].Registration.Alone ? ConsumerTurn.Unlimited : await WaitTurnAsync().ConfigureAwait(false);
            try
            {
                // No waiting for a batch to fill: under light load a batch is one message and costs no latency; under load
                // the queue fills while the previous transaction commits, and the next takes all of it at once. A handler
                // registered to run alone (it waits on slow calls) never shares a transaction, so it holds up no other.
                int limit = Math.Min(_options.ConsumerBatchSize, turn.MaxMessages);
                while (!batch[0].Registration.Alone && batch.Count < limit && reader.TryRead(out var delivery))
                {
                    if (delivery.Registration.Alone)
                    {
                        alone = delivery;
                        break;
                    }

                    batch.Add(delivery);
                }

                await HandleBatchAsync(batch).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                // Every path settles its messages itself; this keeps the worker alive if one of them throws anyway, and
                // returns what was left unsettled, which would otherwise hold back the acks of every later delivery.
                LogSettleFailed(_logger, exception);
                await SettleAsync(() => new ValueTask(_acks.ReturnUnfinishedAsync(
                    batch.Where(d => d.Received.Bundle is null).Select(d => d.Received.DeliveryTag).ToArray(),
                    tag => batch[0].Received.Channel.BasicNackAsync(tag, multiple: false, requeue: true),
                    CancellationToken.None))).ConfigureAwait(false);
                foreach (var delivery in batch.Where(d => d.Received.Bundle is not null))
                {
                    await ReturnAsync(delivery.Received).ConfigureAwait(false); // A no-op for an event settled already.
                }
            }
            finally
            {
                turn.End(batch.Count);
                Interlocked.Add(ref _inFlight, -batch.Count);
                batch.Clear();
            }
        }
    }

    /// <summary>
    /// The service's <see cref="IConsumerThrottle"/> turn, asked with a delivery in hand and no transaction open. When the
    /// consumer is aborted while it waits, the batch goes on unthrottled: <see cref="HandleBatchAsync"/> then returns it
    /// to the queue.
    /// </summary>
    private async ValueTask<ConsumerTurn> WaitTurnAsync()
    {
        if (_throttle is null)
        {
            return ConsumerTurn.Unlimited;
        }

        try
        {
            return await _throttle.WaitTurnAsync(_abortInFlight.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abortInFlight.IsCancellationRequested)
        {
            return ConsumerTurn.Unlimited;
        }
    }

    /// <summary>
    /// Handles the messages of <paramref name="batch"/> in one transaction of two commands: BEGIN with every inbox row
    /// (one multi-row INSERT), then, after the handlers ran, their appended writes with the COMMIT; then acks them all.
    /// A duplicate inbox key stops the first command: nothing ran, and each message is handled again on its own (one
    /// alone that hits the key was handled before: it is acknowledged as a no-op). Any other failure rolls the whole
    /// transaction back and each message is handled again on its own, so retries, dead letters and duplicates behave
    /// per message exactly as for a batch of one; a message alone that fails goes down the retry path.
    /// </summary>
    private async Task HandleBatchAsync(List<Delivery> batch)
    {
        if (_abortInFlight.IsCancellationRequested)
        {
            foreach (var delivery in batch)
            {
                await ReturnAsync(delivery.Received).ConfigureAwait(false);
                delivery.Activity?.Dispose();
            }

            return;
        }

        var outer = Activity.Current;
        foreach (var delivery in batch)
        {
            delivery.Activity ??= StartProcessActivity(delivery);
            Activity.Current = outer;
        }

        bool handled;
        try
        {
            handled = await _dataSource.InTransactionAsync(InboxRows(batch), async (connection, transaction, writes, token) =>
            {
                foreach (var delivery in batch)
                {
                    Activity.Current = delivery.Activity;
                    try
                    {
                        await RunHandlerAsync(delivery, connection, transaction, writes, token).ConfigureAwait(false);
                    }
                    finally
                    {
                        Activity.Current = outer;
                    }
                }

                // Every handler's deferred writes go with the COMMIT; a failure rolls the batch back like a handler's would.
                return true;
            }, TransientErrors.IsUniqueViolation, cancellationToken: _abortInFlight.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abortInFlight.IsCancellationRequested)
        {
            foreach (var delivery in batch)
            {
                await ReturnAsync(delivery.Received).ConfigureAwait(false);
                delivery.Activity?.Dispose();
            }

            Activity.Current = outer;
            return;
        }
        catch (Exception exception) when (batch.Count > 1)
        {
            // Which message failed is unknown (or it was the database): each runs alone, in its own span already started.
            LogBatchFailed(_logger, exception, batch.Count);
            await HandleEachAloneAsync(batch).ConfigureAwait(false);
            Activity.Current = outer;
            return;
        }
        catch (Exception exception)
        {
            var delivery = batch[0];
            delivery.Activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            delivery.Activity?.SetTag("error.type", exception.GetType().FullName);
            Activity.Current = delivery.Activity;
            try
            {
                await RetryOrDeadLetterAsync(delivery, exception).ConfigureAwait(false);
            }
            finally
            {
                delivery.Activity?.Dispose();
                Activity.Current = outer;
            }

            return;
        }

        if (!handled && batch.Count > 1)
        {
            // Some were handled before (or one is in the batch twice): find out one by one.
            await HandleEachAloneAsync(batch).ConfigureAwait(false);
            Activity.Current = outer;
            return;
        }

        var tags = new List<ulong>(batch.Count);
        List<Received>? returned = null;
        foreach (var delivery in batch)
        {
            Consumed(delivery, handled);
            switch (delivery.Received.Settle(returned: false))
            {
                case Settlement.Ack:
                    tags.Add(delivery.Received.DeliveryTag);
                    break;
                case Settlement.Return:
                    (returned ??= []).Add(delivery.Received);
                    break;
            }
        }

        // One frame for the whole batch (and any finished run before it), once every earlier delivery is finished too.
        if (tags.Count > 0)
        {
            await SettleAsync(() => new ValueTask(_acks.AckAsync(tags, CancellationToken.None))).ConfigureAwait(false);
        }

        foreach (var received in returned ?? [])
        {
            await ReturnMessageAsync(received).ConfigureAwait(false);
        }
        foreach (var delivery in batch)
        {
            delivery.Activity?.Dispose();
        }

        Activity.Current = outer;
    }

    private async Task HandleEachAloneAsync(List<Delivery> batch)
    {
        foreach (var delivery in batch)
        {
            await HandleBatchAsync([delivery]).ConfigureAwait(false);
        }
    }

    private async Task RunHandlerAsync(Delivery delivery, DbConnection connection, DbTransaction transaction, SqlBatch writes, CancellationToken cancellationToken)
    {
        await using var scope = _services.CreateAsyncScope();
        await delivery.Registration.Handle(scope.ServiceProvider, delivery.Payload, new EventContext(delivery.Envelope, connection, transaction, delivery.Attempt, writes), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>The inbox rows of <paramref name="batch"/> as one INSERT, sent with the transaction's BEGIN.</summary>
    private SqlBatch InboxRows(IReadOnlyList<Delivery> batch)
    {
        var handledAt = _timeProvider.GetUtcNow().UtcDateTime;
        var rows = new SqlBatch("inbox.insert_batch").Insert("INSERT INTO inbox (consumer, event_id, event_type, handled_at) VALUES");
        foreach (var delivery in batch)
        {
            rows.Row(_topology.Queue, delivery.Envelope.Id.ToString(), delivery.Envelope.Type, handledAt);
        }

        return rows.End();
    }

    private Activity? StartProcessActivity(Delivery delivery)
    {
        var activity = MessagingTelemetry.Source.StartActivity(
            $"{delivery.Envelope.Type} process", ActivityKind.Consumer, MessageHeaders.ExtractParent(delivery.Received.Properties.Headers));
        activity?.SetTag("messaging.system", "rabbitmq");
        activity?.SetTag("messaging.operation.type", "process");
        activity?.SetTag("messaging.destination.name", _topology.Queue);
        activity?.SetTag("messaging.message.id", delivery.Envelope.Id.ToString());
        activity?.SetTag("bazaar.messaging.attempt", delivery.Attempt);
        return activity;
    }

    private void Consumed(Delivery delivery, bool firstTime)
    {
        _telemetry.Consumed.Add(1, new("messaging.destination.name", _topology.Queue), new("bazaar.messaging.duplicate", !firstTime));
        if (!firstTime)
        {
            LogDuplicate(_logger, delivery.Envelope.Id, delivery.Envelope.Type);
        }
    }

    private async Task RetryOrDeadLetterAsync(Delivery delivery, Exception exception)
    {
        var (received, envelope, attempt) = (delivery.Received, delivery.Envelope, delivery.Attempt);

        // The database being unreachable (after the data source's own retries) is not the handler's fault: wait on the
        // retry path without spending the message's budget, so an outage does not fill the dead-letter queue.
        var infrastructure = TransientErrors.IsTransient(exception) && _topology.RetryDelays.Count > 0;
        if (attempt >= _topology.RetryDelays.Count && !infrastructure)
        {
            LogGaveUp(_logger, exception, envelope.Id, envelope.Type, attempt + 1);
            await DeadLetterAsync(received, $"Handler failed {attempt + 1} time(s); last error: {Describe(exception)}", attempt + 1).ConfigureAwait(false);
            return;
        }

        var headers = MessageHeaders.Copy(received.Properties.Headers);
        var nextAttempt = infrastructure ? attempt : attempt + 1;
        var delayIndex = Math.Min(attempt, _topology.RetryDelays.Count - 1);
        headers[MessageHeaders.Attempt] = nextAttempt;
        headers[MessageHeaders.LastError] = Describe(exception);
        var retryQueue = _topology.RetryQueue(delayIndex);
        LogRetrying(_logger, exception, envelope.Id, envelope.Type, attempt + 1, _topology.RetryDelays[delayIndex]);
        if (await RepublishAsync(received, "", retryQueue, headers).ConfigureAwait(false))
        {
            _telemetry.Retried.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", _topology.Queue));
            await AckAsync(received).ConfigureAwait(false);
        }
        else
        {
            await ReturnAsync(received).ConfigureAwait(false);
        }
    }

    private async Task DeadLetterAsync(Received received, string reason, int attempts)
    {
        var headers = MessageHeaders.Copy(received.Properties.Headers);
        headers[MessageHeaders.DeadLetterReason] = reason;
        headers[MessageHeaders.DeadLetteredAt] = _timeProvider.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        headers[MessageHeaders.OriginalQueue] = _topology.Queue;
        headers[MessageHeaders.Attempt] = attempts;
        if (await RepublishAsync(received, "", _topology.DeadLetterQueue, headers).ConfigureAwait(false))
        {
            _telemetry.DeadLettered.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", _topology.Queue));
            LogDeadLettered(_logger, received.Properties.MessageId, _topology.DeadLetterQueue, reason);
            await AckAsync(received).ConfigureAwait(false);
        }
        else
        {
            await ReturnAsync(received).ConfigureAwait(false);
        }
    }

    // The copy is confirmed before the original is acknowledged, so a failure in between duplicates rather than loses.
    private async Task<bool> RepublishAsync(Received received, string exchange, string routingKey, Dictionary<string, object?> headers)
    {
        var properties = new BasicProperties(received.Properties) { Headers = headers, DeliveryMode = DeliveryModes.Persistent };
        try
        {
            await _publisher.PublishAsync(exchange, routingKey, properties, received.Body, CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (Exception exception)
        {
            LogRepublishFailed(_logger, exception, routingKey);
            return false;
        }
    }

    private Task AckAsync(Received received) => received.Settle(returned: false) switch
    {
        Settlement.Ack => SettleAsync(() => new ValueTask(_acks.AckAsync(received.DeliveryTag, CancellationToken.None))),
        Settlement.Return => ReturnMessageAsync(received),
        _ => Task.CompletedTask,
    };

    private Task ReturnAsync(Received received) => received.Settle(returned: true) == Settlement.Wait ? Task.CompletedTask : ReturnMessageAsync(received);

    // The nack goes out on its own, before the delivery stops holding back the multiple acks of later ones.
    private async Task ReturnMessageAsync(Received received)
    {
        await SettleAsync(() => received.Channel.BasicNackAsync(received.DeliveryTag, multiple: false, requeue: true)).ConfigureAwait(false);
        await SettleAsync(() => new ValueTask(_acks.SettledAsync(received.DeliveryTag, CancellationToken.None))).ConfigureAwait(false);
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

    /// <summary>
    /// Stops once, however often it is called: a host may be stopped twice, even at the same time (a test host's stop and
    /// the application's own <c>Run</c> ending), and every caller waits for that one stop, so the host is not disposed
    /// while it still runs. The first caller's time to run out ends the wait for the handlers in flight.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        using var registration = cancellationToken.Register(static state => ((CancellationTokenSource)state!).Cancel(), _stopDeadline);
        Task stopping;
        lock (_stopGate)
        {
            stopping = _stopping ??= StopOnceAsync(_stopDeadline.Token);
        }

        await stopping.ConfigureAwait(false);
    }

    private async Task StopOnceAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true } channel && _consumerTag is { } tag)
        {
            try
            {
                await channel.BasicCancelAsync(tag, noWait: false, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                // Also when the broker's cancel-ok is not back before the shutdown time ends: the handlers in flight
                // are then aborted below, and closing the channel returns to the queue whatever it still holds.
                LogCancelFailed(_logger, exception);
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

        _received.Writer.TryComplete();
        try
        {
            await Task.WhenAll(_workers).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException exception)
        {
            LogSettleFailed(_logger, exception);
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
        _stopDeadline.Dispose();
        base.Dispose();
    }

    /// <summary>
    /// A delivery as received, or one event of a bundle (<paramref name="Bundle"/>, whose message it shares); the body is a
    /// copy, since the client reuses its buffer after the callback.
    /// </summary>
    private sealed record Received(IChannel Channel, ulong DeliveryTag, IReadOnlyBasicProperties Properties, ReadOnlyMemory<byte> Body, BundleDelivery? Bundle = null)
    {
        private int _settled;

        /// <summary>
        /// This event is done, handled or passed on (<paramref name="returned"/>: to be delivered again): what to do with
        /// its message now. A plain message is settled by its one event; a bundle's once all its events are, each counted
        /// once whichever path gets there first.
        /// </summary>
        public Settlement Settle(bool returned)
        {
            if (Bundle is null)
            {
                return returned ? Settlement.Return : Settlement.Ack;
            }

            return Interlocked.Exchange(ref _settled, 1) == 0 ? Bundle.Settle(returned) : Settlement.Wait;
        }
    }

    private enum Settlement
    {
        /// <summary>Other events of the message are still being handled.</summary>
        Wait,
        Ack,
        /// <summary>Nack it back to the queue: the events already handled are then no-ops (inbox).</summary>
        Return,
    }

    /// <summary>The message of a bundle: acked once every event in it is settled, or returned if any of them was returned.</summary>
    private sealed class BundleDelivery(int events)
    {
        private int _remaining = events;
        private int _returned;

        public Settlement Settle(bool returned)
        {
            if (returned)
            {
                Volatile.Write(ref _returned, 1);
            }

            if (Interlocked.Decrement(ref _remaining) > 0)
            {
                return Settlement.Wait;
            }

            return Volatile.Read(ref _returned) == 0 ? Settlement.Ack : Settlement.Return;
        }
    }

    /// <summary>A readable delivery waiting for a worker; <see cref="Activity"/> is its process span once a batch starts it.</summary>
    private sealed record Delivery(Received Received, EventEnvelope Envelope, HandlerRegistration Registration, object Payload, int Attempt)
    {
        public Activity? Activity { get; set; }
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

    [LoggerMessage(Level = LogLevel.Debug, Message = "A batch of {Count} messages failed and was rolled back; handling each on its own")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not republish a message to {RoutingKey}; returning it to the queue")]
    private static partial void LogRepublishFailed(ILogger logger, Exception exception, string routingKey);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Acknowledging or cancelling on the broker failed; the broker will redeliver")]
    private static partial void LogSettleFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cancelling the consumer on the broker failed or timed out; closing its channel instead")]
    private static partial void LogCancelFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting old inbox rows failed")]
    private static partial void LogCleanupFailed(ILogger logger, Exception exception);
}
