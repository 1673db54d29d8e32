using System.Diagnostics;
using System.Globalization;
using Bazaar.Messaging;
using MySqlConnector;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

/// <summary>
/// The bare ceiling, measured in the same run as the pipeline: what RabbitMQ and MariaDB do alone on this machine, with
/// the durability the pipeline asks of them. RabbitMQ: <c>messages</c> persistent messages published with confirms in
/// batches of 256 (the relay's publisher, no database), then consumed with prefetch 256 and multiple acks (no handler,
/// no database). MariaDB: one-row INSERTs in autocommit (each a durable commit, fsync per commit) on 16 connections for
/// 2 s: the commit rate with nothing else around it.
/// </summary>
internal static class Ceiling
{
    public static async Task<string> MeasureAsync(string mysqlServer, string amqp, int messages, CancellationToken cancellationToken)
    {
        var broker = await BrokerAsync(amqp, messages, cancellationToken);
        var commits = await CommitsAsync(mysqlServer, connections: 16, TimeSpan.FromSeconds(2), cancellationToken);
        return string.Create(CultureInfo.InvariantCulture,
            $"RabbitMQ alone: {messages} persistent messages published with confirms in {broker.Published.TotalSeconds:F2} s ({messages / broker.Published.TotalSeconds:F0}/s), consumed and acked in {broker.Consumed.TotalSeconds:F2} s ({messages / broker.Consumed.TotalSeconds:F0}/s); MariaDB alone: {commits:F0} commits/s (one-row INSERT in autocommit, 16 connections, 2 s)");
    }

    private static async Task<(TimeSpan Published, TimeSpan Consumed)> BrokerAsync(string amqp, int messages, CancellationToken cancellationToken)
    {
        var name = $"bench.ceiling.{Guid.NewGuid():N}"[..28];
        var factory = new ConnectionFactory { Uri = new Uri(amqp), ClientProvidedName = "bench-ceiling" };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        await using var publisherConnection = await factory.CreateConnectionAsync("bench-ceiling-publisher", cancellationToken);
        var provider = new RabbitMQConnectionProvider(() => publisherConnection,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<RabbitMQConnectionProvider>.Instance);
        await using var publisher = new BatchPublisher(provider, name);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await MessagingTopology.DeclareExchangeAsync(channel, name, cancellationToken);
        await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
        await channel.QueueBindAsync(name, name, "#", cancellationToken: cancellationToken);
        try
        {
            var body = new byte[200];
            var started = Stopwatch.GetTimestamp();
            for (var sent = 0; sent < messages; sent += 256)
            {
                var batch = Enumerable.Range(sent, Math.Min(256, messages - sent))
                    .Select(i => new OutgoingMessage("ceiling", new BasicProperties
                    {
                        MessageId = i.ToString(CultureInfo.InvariantCulture),
                        DeliveryMode = DeliveryModes.Persistent,
                    }, body))
                    .ToArray();
                await publisher.PublishAsync(batch, cancellationToken);
            }

            var published = Stopwatch.GetElapsedTime(started);
            await channel.BasicQosAsync(0, 256, global: false, cancellationToken);
            var received = 0;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += async (_, delivery) =>
            {
                var n = ++received;
                if (n % 64 == 0 || n == messages)
                {
                    await channel.BasicAckAsync(delivery.DeliveryTag, multiple: true, cancellationToken);
                }

                if (n == messages)
                {
                    done.TrySetResult();
                }
            };
            started = Stopwatch.GetTimestamp();
            await channel.BasicConsumeAsync(name, autoAck: false, consumer, cancellationToken);
            await done.Task.WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
            return (published, Stopwatch.GetElapsedTime(started));
        }
        finally
        {
            await channel.QueueDeleteAsync(name, cancellationToken: CancellationToken.None);
            await channel.ExchangeDeleteAsync(name, cancellationToken: CancellationToken.None);
            await provider.DisposeAsync();
        }
    }

    private static async Task<double> CommitsAsync(string mysqlServer, int connections, TimeSpan duration, CancellationToken cancellationToken)
    {
        var database = $"bench_ceiling_{Guid.NewGuid():N}"[..28];
        await RunAsync(mysqlServer, $"CREATE DATABASE `{database}`; CREATE TABLE `{database}`.ceiling_rows (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL)", cancellationToken);
        try
        {
            var connectionString = new MySqlConnectionStringBuilder(mysqlServer) { Database = database, SslMode = MySqlSslMode.None }.ConnectionString;
            long commits = 0;
            var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            var started = Stopwatch.GetTimestamp();
            await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
            {
                await using var connection = new MySqlConnection(connectionString);
                await connection.OpenAsync(cancellationToken);
                await using var command = connection.CreateCommand();
                command.CommandText = "INSERT INTO ceiling_rows (n) VALUES (1)";
                while (Stopwatch.GetTimestamp() < until)
                {
                    await command.ExecuteNonQueryAsync(cancellationToken);
                    Interlocked.Increment(ref commits);
                }
            }, cancellationToken)));
            return commits / Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
        finally
        {
            await RunAsync(mysqlServer, $"DROP DATABASE `{database}`", CancellationToken.None);
        }
    }

    private static async Task RunAsync(string mysqlServer, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new MySqlConnection(new MySqlConnectionStringBuilder(mysqlServer) { SslMode = MySqlSslMode.None }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
