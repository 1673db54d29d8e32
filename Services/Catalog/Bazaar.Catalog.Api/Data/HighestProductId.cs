using System.Globalization;
using Bazaar.Caching;

namespace Bazaar.Catalog.Api.Data;

/// <summary>
/// The highest product id issued so far, known in memory, so a lookup of an id that cannot exist is answered
/// without Redis or MySQL (penetration by random ids). Raised by local creates, by other replicas' invalidations
/// of a new item key, and by a periodic re-read as a backstop when pub/sub was unavailable.
/// </summary>
internal sealed class HighestProductId
{
    private int _value;

    public HighestProductId(TwoLevelCache cache) => cache.KeyInvalidated += Observe;

    public int Value => Volatile.Read(ref _value);

    public void Raise(int id)
    {
        int current = Volatile.Read(ref _value);
        while (id > current)
        {
            int seen = Interlocked.CompareExchange(ref _value, id, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private void Observe(string key)
    {
        if (key.StartsWith(CatalogReads.ItemKeyPrefix, StringComparison.Ordinal)
            && int.TryParse(key.AsSpan(CatalogReads.ItemKeyPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
        {
            Raise(id);
        }
    }
}
