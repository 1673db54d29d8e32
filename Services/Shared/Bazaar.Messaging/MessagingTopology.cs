using System.Globalization;
using RabbitMQ.Client;

namespace Bazaar.Messaging;

/// <summary>
/// The broker layout: one topic exchange for all events; per service a durable queue bound by event type, a TTL queue per
/// retry delay that dead-letters back into the service queue, and a dead-letter queue for what cannot be handled.
/// </summary>
public sealed record MessagingTopology(string Exchange, string Queue, IReadOnlyList<TimeSpan> RetryDelays)
{
    public static MessagingTopology From(MessagingOptions options) => new(options.ExchangeName, options.QueueName, options.RetryDelays);

    public string DeadLetterQueue => Queue + ".dlq";

    public string RetryQueue(int index) => $"{Queue}.retry.{Format(RetryDelays[index])}";

    /// <summary>Declares the exchange only: what a publisher needs.</summary>
    public static Task DeclareExchangeAsync(IChannel channel, string exchange, CancellationToken cancellationToken) =>
        channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: cancellationToken);

    /// <summary>Declares the exchange, this service's queues, and binds the service queue to each event type.</summary>
    public async Task DeclareAsync(IChannel channel, IEnumerable<string> eventTypes, CancellationToken cancellationToken)
    {
        await DeclareExchangeAsync(channel, Exchange, cancellationToken).ConfigureAwait(false);
        await channel.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueDeclareAsync(DeadLetterQueue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        for (var index = 0; index < RetryDelays.Count; index++)
        {
            var arguments = new Dictionary<string, object?>
            {
                ["x-message-ttl"] = (long)RetryDelays[index].TotalMilliseconds,
                ["x-dead-letter-exchange"] = "",
                ["x-dead-letter-routing-key"] = Queue,
            };
            await channel.QueueDeclareAsync(RetryQueue(index), durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        foreach (var eventType in eventTypes.Distinct(StringComparer.Ordinal))
        {
            await channel.QueueBindAsync(Queue, Exchange, eventType, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    internal static string Format(TimeSpan delay) =>
        delay.TotalMilliseconds % 1000 == 0
            ? ((long)delay.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s"
            : ((long)delay.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
}
