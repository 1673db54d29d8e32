using Microsoft.Extensions.DependencyInjection;

namespace Bazaar.Messaging;

/// <summary>One event type's handler: how to read its payload, how to run it, and whether it runs in a transaction of its own.</summary>
internal sealed record HandlerRegistration(
    string EventType,
    Func<EventEnvelope, object> ReadPayload,
    Func<IServiceProvider, object, EventContext, CancellationToken, Task> Handle,
    bool Alone)
{
    public static HandlerRegistration For<TEvent, THandler>(bool alone)
        where TEvent : IIntegrationEvent
        where THandler : class, IIntegrationEventHandler<TEvent> =>
        new(
            TEvent.EventType,
            envelope => envelope.GetPayload<TEvent>()!,
            (services, payload, context, cancellationToken) =>
                services.GetRequiredService<THandler>().HandleAsync((TEvent)payload, context, cancellationToken),
            alone);
}

/// <summary>The handlers of this service, by event type; at most one per type, since the inbox keys on the service queue.</summary>
internal sealed class HandlerRegistry
{
    private readonly Dictionary<string, HandlerRegistration> _handlers = new(StringComparer.Ordinal);

    public IEnumerable<string> EventTypes => _handlers.Keys;

    public void Add(HandlerRegistration registration)
    {
        if (!_handlers.TryAdd(registration.EventType, registration))
        {
            throw new InvalidOperationException($"A handler for event type '{registration.EventType}' is registered already; one handler per event type and service.");
        }
    }

    public HandlerRegistration? Find(string eventType) => _handlers.GetValueOrDefault(eventType);
}
