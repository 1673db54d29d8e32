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
    /// <summary>
    /// A lookup above the highest known id re-reads it from MySQL at most this often: a replica that missed the
    /// pub/sub of a create (subscribing late, a dropped message) then finds the product at once instead of answering
    /// "unknown" until its periodic re-read, while random ids still cost at most one indexed MAX(id) a second.
    /// </summary>
    internal static readonly TimeSpan MinReadGap = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;
    private int _value;
    private long _lastRead;

    public HighestProductId(TwoLevelCache cache, TimeProvider time)
        : this(time) => cache.KeyInvalidated += Observe;

    internal HighestProductId(TimeProvider time) => _time = time;

    public int Value => Volatile.Read(ref _value);

    /// <summary>
    /// Whether <paramref name="id"/> may exist: true at once up to the highest known id; above it, the highest id is read
    /// again (<paramref name="readHighest"/>) unless it was read less than <see cref="MinReadGap"/> ago or is being read.
    /// </summary>
    public async ValueTask<bool> MayExistAsync(int id, Func<CancellationToken, Task<int>> readHighest, CancellationToken cancellationToken)
    {
        if (id <= Value)
        {
            return true;
        }

        long now = _time.GetTimestamp();
        long last = Volatile.Read(ref _lastRead);
        if ((last != 0 && _time.GetElapsedTime(last, now) < MinReadGap) || Interlocked.CompareExchange(ref _lastRead, now, last) != last)
        {
            return false;
        }

        try
        {
            Raise(await readHighest(cancellationToken).ConfigureAwait(false));
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // MySQL away: answer from what is known, as before this re-read existed; the periodic re-read catches up.
        }

        return id <= Value;
    }

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
