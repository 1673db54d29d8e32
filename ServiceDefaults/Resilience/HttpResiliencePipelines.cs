using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace Bazaar.ServiceDefaults.Resilience;

/// <summary>
/// One pipeline per named HttpClient, built from the options of that name, kept for the life of the service:
/// handlers are recycled every few minutes by IHttpClientFactory, but a circuit breaker must remember what it has seen.
/// </summary>
internal sealed class HttpResiliencePipelines(IOptionsMonitor<HttpStandardResilienceOptions> options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
{
    private readonly ConcurrentDictionary<string, Lazy<ResiliencePipeline<HttpResponseMessage>>> pipelines = new(StringComparer.Ordinal);

    public ResiliencePipeline<HttpResponseMessage> Get(string clientName) =>
        pipelines.GetOrAdd(
            clientName,
            _ => new Lazy<ResiliencePipeline<HttpResponseMessage>>(
                () => HttpStandardResiliencePipeline.Create(
                    options.Get(clientName),
                    timeProvider,
                    new ResilienceEvents(loggerFactory.CreateLogger("Bazaar.ServiceDefaults.Resilience"), clientName)))).Value;
}
