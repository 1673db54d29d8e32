using System.Globalization;
using System.Text.Json;
using Bazaar.Dashboard.Telemetry;

namespace Bazaar.Dashboard;

/// <summary>A figure of the shop's own instruments on the metrics overview.</summary>
public sealed record ShopFigure(string Title, string Instrument, string? Headline, IReadOnlyList<(string Label, string Value)> Rows);

/// <summary>
/// Orders per status, cache hit ratio and outbox backlog, from the latest exported values of the services'
/// instruments (Bazaar.* meters). Each figure says "no data yet" until its instruments have been exported.
/// </summary>
public sealed class ShopFigures(TelemetryStore store)
{
    private const string OrdersPrefix = "bazaar.orders";
    private const string CacheHits = "bazaar.cache.hits";
    private const string CacheMisses = "bazaar.cache.misses";
    private const string OutboxBacklog = "bazaar.messaging.outbox.backlog";
    private static readonly string[] StatusKeys = ["status", "order.status", "bazaar.order.status"];

    public async Task<IReadOnlyList<ShopFigure>> GetAsync(CancellationToken cancellationToken) =>
    [
        await OrdersPerStatusAsync(cancellationToken),
        await CacheHitRatioAsync(cancellationToken),
        await OutboxAsync(cancellationToken),
    ];

    private async Task<ShopFigure> OrdersPerStatusAsync(CancellationToken cancellationToken)
    {
        // The order service owns the instrument's exact name; any bazaar.orders* instrument with a status attribute counts.
        foreach (var name in await store.GetInstrumentNamesAsync(OrdersPrefix, cancellationToken))
        {
            var byStatus = (await store.GetLatestValuesAsync(name, cancellationToken))
                .Select(v => (Status: StatusOf(v.Attributes), v.Value))
                .Where(v => v.Status is not null)
                .GroupBy(v => v.Status!)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => (g.Key, g.Sum(v => v.Value).ToString("N0", CultureInfo.InvariantCulture)))
                .ToList();
            if (byStatus.Count > 0) return new ShopFigure("Orders per status", name, null, byStatus);
        }
        return new ShopFigure("Orders per status", OrdersPrefix + "*", null, []);
    }

    private async Task<ShopFigure> CacheHitRatioAsync(CancellationToken cancellationToken)
    {
        var hits = (await store.GetLatestValuesAsync(CacheHits, cancellationToken)).Sum(v => v.Value);
        var misses = (await store.GetLatestValuesAsync(CacheMisses, cancellationToken)).Sum(v => v.Value);
        if (hits + misses == 0) return new ShopFigure("Cache hit ratio", CacheHits, null, []);
        return new ShopFigure(
            "Cache hit ratio", CacheHits, (hits / (hits + misses)).ToString("P1", CultureInfo.InvariantCulture),
            [("hits", hits.ToString("N0", CultureInfo.InvariantCulture)), ("misses", misses.ToString("N0", CultureInfo.InvariantCulture))]);
    }

    private async Task<ShopFigure> OutboxAsync(CancellationToken cancellationToken)
    {
        var values = await store.GetLatestValuesAsync(OutboxBacklog, cancellationToken);
        if (values.Count == 0) return new ShopFigure("Outbox backlog", OutboxBacklog, null, []);
        return new ShopFigure(
            "Outbox backlog", OutboxBacklog, values.Sum(v => v.Value).ToString("N0", CultureInfo.InvariantCulture) + " rows",
            [.. values.GroupBy(v => v.Resource).Select(g => (g.Key, g.Sum(v => v.Value).ToString("N0", CultureInfo.InvariantCulture)))]);
    }

    private static string? StatusOf(JsonElement attributes)
    {
        if (attributes.ValueKind != JsonValueKind.Object) return null;
        foreach (var key in StatusKeys)
        {
            if (attributes.TryGetProperty(key, out var value)) return value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText();
        }
        return null;
    }
}
