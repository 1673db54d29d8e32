using RabbitMQ.Client;

namespace Bazaar.Messaging;

/// <summary>
/// A channel with publisher confirms and tracking: each publish completes only when the broker has the message
/// (and has written it, the messages being persistent). A broken channel is replaced on the next publish.
/// </summary>
internal sealed class ConfirmingPublisher(RabbitMQConnectionProvider provider, string exchange) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IChannel? _channel;

    public string Exchange => exchange;

    public async ValueTask<IChannel> GetChannelAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true } open)
        {
            return open;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_channel is { IsOpen: true } reopened)
            {
                return reopened;
            }

            if (_channel is { } broken)
            {
                _channel = null;
                await broken.DisposeAsync().ConfigureAwait(false);
            }

            var connection = await provider.GetConnectionAsync(cancellationToken).ConfigureAwait(false);
            var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true),
                cancellationToken).ConfigureAwait(false);
            if (exchange.Length > 0)
            {
                await MessagingTopology.DeclareExchangeAsync(channel, exchange, cancellationToken).ConfigureAwait(false);
            }

            _channel = channel;
            return channel;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Publishes and waits for the broker's confirm; throws when the broker refuses or the connection drops.</summary>
    /// <remarks>With <paramref name="mandatory"/>, a message no queue takes throws a <c>PublishException</c> whose <c>IsReturn</c> is true.</remarks>
    public async Task PublishAsync(string targetExchange, string routingKey, BasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken, bool mandatory = false)
    {
        var channel = await GetChannelAsync(cancellationToken).ConfigureAwait(false);
        using var trace = MessageHeaders.ContinueTrace(properties.Headers);
        await channel.BasicPublishAsync(targetExchange, routingKey, mandatory, properties, body, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_channel is { } channel)
        {
            _channel = null;
            try
            {
                await channel.CloseAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Closing a channel whose connection is gone fails; disposing still releases it.
            }

            await channel.DisposeAsync().ConfigureAwait(false);
        }
    }
}
