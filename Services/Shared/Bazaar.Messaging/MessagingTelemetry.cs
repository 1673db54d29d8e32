using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Bazaar.Messaging;

/// <summary>Spans and metrics of the messaging library; ServiceDefaults listens to <c>Bazaar.*</c>.</summary>
public sealed class MessagingTelemetry : IDisposable
{
    public const string Name = "Bazaar.Messaging";

    internal static readonly ActivitySource Source = new(Name);

    private readonly Meter _meter;
    private long _backlog;
    private double _oldestAgeSeconds;

    public MessagingTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(Name);
        Published = _meter.CreateCounter<long>("bazaar.messaging.published", "{message}", "Messages handed to the broker by the outbox relay.");
        Confirmed = _meter.CreateCounter<long>("bazaar.messaging.confirmed", "{message}", "Published messages the broker confirmed; their outbox rows are marked sent.");
        Consumed = _meter.CreateCounter<long>("bazaar.messaging.consumed", "{message}", "Messages handled and acknowledged (duplicates included, tagged).");
        Unroutable = _meter.CreateCounter<long>("bazaar.messaging.unroutable", "{message}", "Published messages no queue was bound to take; their outbox rows are offered again later.");
        Retried = _meter.CreateCounter<long>("bazaar.messaging.retried", "{message}", "Failed messages sent to a retry queue.");
        DeadLettered = _meter.CreateCounter<long>("bazaar.messaging.dead_lettered", "{message}", "Messages sent to a dead-letter queue.");
        _meter.CreateObservableGauge("bazaar.messaging.outbox.backlog", () => Interlocked.Read(ref _backlog), "{row}", "Outbox rows not yet published.");
        _meter.CreateObservableGauge("bazaar.messaging.outbox.oldest_age", () => Volatile.Read(ref _oldestAgeSeconds), "s", "Age of the oldest unpublished outbox row.");
    }

    internal Counter<long> Published { get; }

    internal Counter<long> Confirmed { get; }

    internal Counter<long> Consumed { get; }

    internal Counter<long> Unroutable { get; }

    internal Counter<long> Retried { get; }

    internal Counter<long> DeadLettered { get; }

    internal void RecordBacklog(long rows, TimeSpan oldestAge)
    {
        Interlocked.Exchange(ref _backlog, rows);
        Volatile.Write(ref _oldestAgeSeconds, oldestAge.TotalSeconds);
    }

    public void Dispose() => _meter.Dispose();
}
