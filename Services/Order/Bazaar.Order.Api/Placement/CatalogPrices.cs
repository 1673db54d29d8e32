using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net.Http.Json;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Bazaar.Order.Api.Placement;

/// <summary>How order-api talks to the catalog while a buyer waits. Bound from <c>Catalog</c>.</summary>
public sealed class CatalogClientOptions
{
    public const string SectionName = "Catalog";

    [Required]
    public Uri BaseAddress { get; set; } = new("http://catalog-api");

    /// <summary>One try, this long at most: the buyer retries with the same Idempotency-Key, so a retry here would only add waiting.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    [Range(0.01, 1.0)]
    public double FailureRatio { get; set; } = 0.5;

    [Range(2, 10_000)]
    public int MinimumThroughput { get; set; } = 10;

    [Range(typeof(TimeSpan), "00:00:00.500", "00:10:00")]
    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.500", "00:10:00")]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a price read from the catalog is reused (zero: never). A flash sale sends thousands of buyers for one
    /// product at once; a second-old price spares the catalog the same lookup thousands of times, and the catalog stays the
    /// source (the order records the price it was charged at).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan PriceCacheDuration { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>A product as priced by the catalog at placement.</summary>
internal sealed record CatalogProduct(int Id, string Name, decimal Price);

/// <summary>The catalog cannot answer now; the buyer should come back after <see cref="RetryAfter"/>.</summary>
internal sealed class CatalogUnavailableException(TimeSpan retryAfter, string message, Exception? inner = null) : Exception(message, inner)
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>
/// Reads prices from the catalog (never from the client) through a circuit breaker of its own: once the catalog has
/// failed often enough the circuit opens and every placement is answered 503 with Retry-After at once, instead of
/// each buyer waiting for a timeout. The standard handler's retries are taken off this client for the same reason.
/// </summary>
internal sealed class CatalogPrices(HttpClient http, CatalogCircuit circuit, IOptions<CatalogClientOptions> options, TimeProvider time)
{
    private readonly CatalogClientOptions _options = options.Value;

    /// <summary>The products with the given ids that the catalog knows (unknown ids are left out).</summary>
    public async Task<IReadOnlyDictionary<int, CatalogProduct>> GetAsync(IReadOnlyCollection<int> productIds, CancellationToken cancellationToken)
    {
        var found = new Dictionary<int, CatalogProduct>(productIds.Count);
        List<int> missing = circuit.Prices.TakeFresh(productIds, time.GetUtcNow(), found);
        if (missing.Count == 0)
        {
            return found;
        }

        // Concurrent buyers missing the same products share one lookup; it runs on its own clock (the circuit's
        // timeout bounds it), so one buyer hanging up does not fail the others.
        string ids = string.Join(',', missing.Select(id => id.ToString(CultureInfo.InvariantCulture)));
        IReadOnlyList<CatalogProduct> fetched = await circuit.Prices.ShareAsync(ids, () => FetchAsync(ids)).WaitAsync(cancellationToken);
        DateTimeOffset expires = time.GetUtcNow() + _options.PriceCacheDuration;
        foreach (CatalogProduct product in fetched)
        {
            found[product.Id] = product;
            if (_options.PriceCacheDuration > TimeSpan.Zero)
            {
                circuit.Prices.Store(product, expires);
            }
        }

        return found;
    }

    private async Task<IReadOnlyList<CatalogProduct>> FetchAsync(string ids)
    {
        CancellationToken cancellationToken = CancellationToken.None;
        HttpResponseMessage response;
        try
        {
            response = await circuit.Pipeline.ExecuteAsync(
                static async (state, token) => await state.Http.GetAsync(new Uri(state.BaseAddress, "/api/catalog/items/by?ids=" + state.Ids), token).ConfigureAwait(false),
                (Http: http, BaseAddress: _options.BaseAddress, Ids: ids),
                cancellationToken).ConfigureAwait(false);
        }
        catch (BrokenCircuitException exception)
        {
            throw new CatalogUnavailableException(exception.RetryAfter ?? _options.BreakDuration, "The catalog's circuit is open.", exception);
        }
        catch (Exception exception) when (exception is HttpRequestException or TimeoutRejectedException)
        {
            throw new CatalogUnavailableException(TimeSpan.FromSeconds(1), "The catalog did not answer.", exception);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new CatalogUnavailableException(TimeSpan.FromSeconds(1), $"The catalog answered {(int)response.StatusCode}.");
            }

            return await response.Content.ReadFromJsonAsync<List<CatalogProduct>>(cancellationToken).ConfigureAwait(false) ?? [];
        }
    }
}

/// <summary>
/// What order-api keeps of the catalog for the life of the process (typed HttpClients come and go): the circuit breaker,
/// which must remember failures, and recently read prices.
/// </summary>
internal sealed class CatalogCircuit(IOptions<CatalogClientOptions> options, TimeProvider timeProvider)
{
    public ResiliencePipeline<HttpResponseMessage> Pipeline { get; } = Build(options.Value, timeProvider);

    public PriceMemory Prices { get; } = new();

    private static ResiliencePipeline<HttpResponseMessage> Build(CatalogClientOptions options, TimeProvider timeProvider) =>
        new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = timeProvider }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                FailureRatio = options.FailureRatio,
                MinimumThroughput = options.MinimumThroughput,
                SamplingDuration = options.SamplingDuration,
                BreakDuration = options.BreakDuration,
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<TimeoutRejectedException>()
                    .HandleResult(response => (int)response.StatusCode >= 500),
            })
            .AddTimeout(options.Timeout)
            .Build();
}

/// <summary>Recently read products, and the lookups in flight, so concurrent misses of the same products share one call.</summary>
internal sealed class PriceMemory
{
    private readonly ConcurrentDictionary<int, (CatalogProduct Product, DateTimeOffset Expires)> _products = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<CatalogProduct>>>> _inFlight = new(StringComparer.Ordinal);

    /// <summary>Copies the fresh entries into <paramref name="found"/> and returns the ids that need a lookup.</summary>
    public List<int> TakeFresh(IEnumerable<int> ids, DateTimeOffset now, Dictionary<int, CatalogProduct> found)
    {
        var missing = new List<int>();
        foreach (int id in ids)
        {
            if (_products.TryGetValue(id, out var entry) && entry.Expires > now)
            {
                found[id] = entry.Product;
            }
            else
            {
                missing.Add(id);
            }
        }

        return missing;
    }

    public void Store(CatalogProduct product, DateTimeOffset expires) => _products[product.Id] = (product, expires);

    public async Task<IReadOnlyList<CatalogProduct>> ShareAsync(string key, Func<Task<IReadOnlyList<CatalogProduct>>> fetch)
    {
        var mine = new Lazy<Task<IReadOnlyList<CatalogProduct>>>(fetch);
        Lazy<Task<IReadOnlyList<CatalogProduct>>> shared = _inFlight.GetOrAdd(key, mine);
        try
        {
            return await shared.Value.ConfigureAwait(false);
        }
        finally
        {
            if (ReferenceEquals(shared, mine))
            {
                _inFlight.TryRemove(new KeyValuePair<string, Lazy<Task<IReadOnlyList<CatalogProduct>>>>(key, mine));
            }
        }
    }
}
