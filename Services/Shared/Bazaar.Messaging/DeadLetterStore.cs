using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Bazaar.Messaging;

/// <summary>A message in a dead-letter queue, as an operator sees it.</summary>
public sealed record DeadLetter(
    string? MessageId,
    string? EventType,
    string? Reason,
    string? DeadLetteredAt,
    int Attempts,
    IReadOnlyDictionary<string, string?> Headers,
    string Body);

/// <summary>
/// Reads and re-queues the dead letters of a service's queue. Listing takes messages without acknowledging them and
/// closes the channel, which puts them all back in place; re-queueing publishes a copy (confirmed) to the service queue
/// and only then acknowledges the dead letter, so a failure in between duplicates (absorbed by the inbox) rather than loses.
/// </summary>
public sealed class DeadLetterStore(RabbitMQConnectionProvider connectionProvider, IOptions<MessagingOptions> options, TimeProvider timeProvider)
{
    /// <summary>Up to <paramref name="limit"/> dead letters of <paramref name="service"/>; null when it has no dead-letter queue.</summary>
    public async Task<IReadOnlyList<DeadLetter>?> ListAsync(string service, int limit, CancellationToken cancellationToken)
    {
        var topology = TopologyOf(service);
        await using var channel = await OpenChannelAsync(confirms: false, cancellationToken).ConfigureAwait(false);
        var count = await CountAsync(channel, topology.DeadLetterQueue, cancellationToken).ConfigureAwait(false);
        if (count is null)
        {
            return null;
        }

        var letters = new List<DeadLetter>();
        while (letters.Count < Math.Min(limit, count.Value)
               && await channel.BasicGetAsync(topology.DeadLetterQueue, autoAck: false, cancellationToken).ConfigureAwait(false) is { } message)
        {
            letters.Add(ToDeadLetter(message));
        }

        await channel.CloseAsync(cancellationToken).ConfigureAwait(false);
        return letters;
    }

    /// <summary>
    /// Moves dead letters of <paramref name="service"/> back to its queue with a fresh retry budget: those with the given
    /// message ids, or all when <paramref name="messageIds"/> is null or empty. Returns how many moved, or null when the
    /// service has no dead-letter queue.
    /// </summary>
    public async Task<int?> RequeueAsync(string service, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        var topology = TopologyOf(service);
        var wanted = messageIds is { Count: > 0 } ? new HashSet<string>(messageIds, StringComparer.Ordinal) : null;
        await using var channel = await OpenChannelAsync(confirms: true, cancellationToken).ConfigureAwait(false);
        var count = await CountAsync(channel, topology.DeadLetterQueue, cancellationToken).ConfigureAwait(false);
        if (count is null)
        {
            return null;
        }

        var moved = 0;
        for (var seen = 0; seen < count.Value; seen++)
        {
            var message = await channel.BasicGetAsync(topology.DeadLetterQueue, autoAck: false, cancellationToken).ConfigureAwait(false);
            if (message is null)
            {
                break;
            }

            if (wanted is not null && (message.BasicProperties.MessageId is not { } id || !wanted.Contains(id)))
            {
                continue;
            }

            var headers = MessageHeaders.Copy(message.BasicProperties.Headers);
            headers.Remove(MessageHeaders.Attempt);
            headers[MessageHeaders.RequeuedAt] = timeProvider.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
            var properties = new BasicProperties(message.BasicProperties) { Headers = headers, DeliveryMode = DeliveryModes.Persistent };
            await channel.BasicPublishAsync("", topology.Queue, mandatory: false, properties, message.Body, cancellationToken).ConfigureAwait(false);
            await channel.BasicAckAsync(message.DeliveryTag, multiple: false, cancellationToken).ConfigureAwait(false);
            moved++;
        }

        // Closing returns the letters that were taken but not chosen.
        await channel.CloseAsync(cancellationToken).ConfigureAwait(false);
        return moved;
    }

    private MessagingTopology TopologyOf(string service) =>
        MessagingTopology.From(options.Value) with { Queue = options.Value.Prefix + service };

    private async Task<IChannel> OpenChannelAsync(bool confirms, CancellationToken cancellationToken)
    {
        var connection = await connectionProvider.GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.CreateChannelAsync(new CreateChannelOptions(confirms, confirms), cancellationToken).ConfigureAwait(false);
    }

    private static async Task<uint?> CountAsync(IChannel channel, string queue, CancellationToken cancellationToken)
    {
        try
        {
            var declared = await channel.QueueDeclarePassiveAsync(queue, cancellationToken).ConfigureAwait(false);
            return declared.MessageCount;
        }
        catch (OperationInterruptedException exception) when (exception.ShutdownReason?.ReplyCode == 404)
        {
            return null;
        }
    }

    private static DeadLetter ToDeadLetter(BasicGetResult message)
    {
        var headers = message.BasicProperties.Headers;
        return new DeadLetter(
            message.BasicProperties.MessageId,
            message.BasicProperties.Type,
            MessageHeaders.GetString(headers, MessageHeaders.DeadLetterReason),
            MessageHeaders.GetString(headers, MessageHeaders.DeadLetteredAt),
            MessageHeaders.GetInt(headers, MessageHeaders.Attempt),
            headers?.ToDictionary(h => h.Key, h => MessageHeaders.AsString(h.Value), StringComparer.Ordinal) ?? new Dictionary<string, string?>(),
            Encoding.UTF8.GetString(message.Body.Span));
    }
}
