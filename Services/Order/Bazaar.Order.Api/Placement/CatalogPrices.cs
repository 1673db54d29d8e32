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
internal sealed class CatalogPrices
{
    private readonly HttpClient _http;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly CatalogClientOptions _options;

    public CatalogPrices(HttpClient http, CatalogCircuit circuit, IOptions<CatalogClientOptions> options)
    {
        _http = http;
        _pipeline = circuit.Pipeline;
        _options = options.Value;
    }

    public async Task<IReadOnlyDictionary<int, CatalogProduct>> GetAsync(IEnumerable<int> productIds, CancellationToken cancellationToken)
    {
        string ids = string.Join(',', productIds.Select(id => id.ToString(CultureInfo.InvariantCulture)));
        HttpResponseMessage response;
        try
        {
            response = await _pipeline.ExecuteAsync(
                static async (state, token) => await state.Http.GetAsync(new Uri(state.BaseAddress, "/api/catalog/items/by?ids=" + state.Ids), token).ConfigureAwait(false),
                (Http: _http, BaseAddress: _options.BaseAddress, Ids: ids),
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

            List<CatalogProduct> products = await response.Content.ReadFromJsonAsync<List<CatalogProduct>>(cancellationToken).ConfigureAwait(false) ?? [];
            return products.ToDictionary(product => product.Id);
        }
    }
}

/// <summary>The catalog circuit, one per process (HttpClient handlers come and go; the breaker must remember).</summary>
internal sealed class CatalogCircuit(IOptions<CatalogClientOptions> options, TimeProvider timeProvider)
{
    public ResiliencePipeline<HttpResponseMessage> Pipeline { get; } = Build(options.Value, timeProvider);

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
