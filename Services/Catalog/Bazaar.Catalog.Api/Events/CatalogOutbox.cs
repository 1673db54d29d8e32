using Bazaar.Catalog.Api.Data;

namespace Bazaar.Catalog.Api.Events;

/// <summary>
/// Adds an integration event to the outbox inside the caller's transaction, so the event exists if and only if
/// the state change committed. The relay (Bazaar.Messaging) publishes it.
/// </summary>
internal sealed class CatalogOutbox
{
    public Task AddAsync(UnitOfWork unit, string type, object payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(unit);
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentNullException.ThrowIfNull(payload);
        cancellationToken.ThrowIfCancellationRequested();
        // Bazaar.Messaging's outbox lands with the data-and-messaging issue; this is the one line that will call it.
        return Task.CompletedTask;
    }
}
