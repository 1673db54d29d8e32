using Microsoft.Extensions.Options;

namespace Bazaar.Messaging;

/// <summary>Messaging settings, bound from <c>Bazaar:Messaging</c>.</summary>
public sealed class MessagingOptions
{
    /// <summary>
    /// Prefix of the exchange and every queue name. Different prefixes never see each other's messages,
    /// which is how parallel tests share one broker.
    /// </summary>
    public string Prefix { get; set; } = "bazaar.";

    /// <summary>This service's queue name (after the prefix); defaults to OTEL_SERVICE_NAME or the application name.</summary>
    public string ServiceName { get; set; } = "";

    /// <summary>Delays of the retry path, one TTL queue each; after the last one a failing message goes to the dead-letter queue.</summary>
    public TimeSpan[] RetryDelays { get; set; } = [];

    /// <summary>Unacknowledged messages the broker hands this consumer at once.</summary>
    public ushort PrefetchCount { get; set; } = 64;

    /// <summary>Transactions handling messages in parallel (each takes up to <see cref="ConsumerBatchSize"/> messages).</summary>
    public int MaxConcurrency { get; set; } = 8;

    /// <summary>
    /// Most messages handled in one transaction and acknowledged after its one commit. A worker takes whatever is waiting
    /// (never waits for a batch to fill), so under light load a batch is one message; under load one commit serves many.
    /// If any handler in a batch fails, the batch rolls back and each message is handled alone. 1 turns batching off.
    /// </summary>
    public int ConsumerBatchSize { get; set; } = 32;

    /// <summary>Rows the relay publishes per transaction.</summary>
    public int RelayBatchSize { get; set; } = 256;

    /// <summary>
    /// Most events the relay sends in one message (<see cref="EventBundle"/>): consecutive rows of one type in a batch go
    /// together, since the broker's cost is per message. Consumers unbundle them, and retry, dead-letter and deduplicate
    /// each event on its own. 1 sends every event alone.
    /// </summary>
    public int MaxEventsPerMessage { get; set; } = 64;

    /// <summary>How often an idle relay looks for rows written by other processes (rows written here wake it at once).</summary>
    public TimeSpan RelayPollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// After a batch of at least <see cref="RelayGatherRows"/> rows the relay waits this long before it looks again, so a
    /// steady stream of rows goes out in fewer, larger batches (the database's and the broker's work is largely per batch:
    /// a transaction, a claim, a publish and its confirm). A quiet outbox's rows still go out at once. Zero (the default):
    /// never waits. At 50 ms, placement alone cost 0.30-0.33 ms of CPU per order instead of 0.34-0.36, but with the saga
    /// running its P99 was no better, if anything worse (48-74 ms against 48-58, session 16): each gathered batch arrives
    /// as a burst of work that the orders in flight at that moment wait behind. For throughput rather than tail latency.
    /// </summary>
    public TimeSpan RelayGatherDelay { get; set; }

    /// <summary>The batch size from which the relay waits <see cref="RelayGatherDelay"/> before the next.</summary>
    public int RelayGatherRows { get; set; } = 32;

    /// <summary>Longest pause between relay attempts while the broker or the database is down.</summary>
    public TimeSpan RelayMaxBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an event that reached no queue (its consumer has not started yet) first waits before it is offered again; the wait grows as its type stays unbound.</summary>
    public TimeSpan UnroutableRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// An event type that has reached no queue for this long has no subscriber: its rows are marked sent (to nobody) from then on,
    /// until one of its events is routed again. Long enough for the consumers of one AppHost start to bind their queues.
    /// </summary>
    public TimeSpan UnroutableGiveUpAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Published outbox rows and handled inbox rows are deleted after this long.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The outbox health check reports Degraded when the oldest unpublished row is older than this.</summary>
    public TimeSpan BacklogDegradedAfter { get; set; } = TimeSpan.FromMinutes(1);

    public string ExchangeName => Prefix + "events";

    public string QueueName => Prefix + ServiceName;

    internal static readonly TimeSpan[] DefaultRetryDelays = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60)];
}

internal sealed class MessagingOptionsValidator : IValidateOptions<MessagingOptions>
{
    public ValidateOptionsResult Validate(string? name, MessagingOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ServiceName))
        {
            failures.Add("Bazaar:Messaging:ServiceName is required (it names this service's queue).");
        }

        if (options.RetryDelays.Any(d => d <= TimeSpan.Zero))
        {
            failures.Add("Bazaar:Messaging:RetryDelays must all be positive.");
        }

        if (options.PrefetchCount == 0 || options.MaxConcurrency <= 0 || options.RelayBatchSize <= 0 || options.MaxEventsPerMessage <= 0)
        {
            failures.Add("Bazaar:Messaging:PrefetchCount, MaxConcurrency, RelayBatchSize and MaxEventsPerMessage must be positive.");
        }

        if (options.ConsumerBatchSize is <= 0 or > 1000)
        {
            failures.Add("Bazaar:Messaging:ConsumerBatchSize must be between 1 and 1000.");
        }

        if (options.RelayPollInterval <= TimeSpan.Zero || options.RelayMaxBackoff <= TimeSpan.Zero || options.CleanupInterval <= TimeSpan.Zero
            || options.UnroutableRetryDelay <= TimeSpan.Zero || options.UnroutableGiveUpAfter <= TimeSpan.Zero)
        {
            failures.Add("Bazaar:Messaging intervals must be positive.");
        }

        if (options.RelayGatherDelay < TimeSpan.Zero || options.RelayGatherDelay > TimeSpan.FromSeconds(5) || options.RelayGatherRows < 1)
        {
            failures.Add("Bazaar:Messaging:RelayGatherDelay must be between 0 and 5 s, and RelayGatherRows positive.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
