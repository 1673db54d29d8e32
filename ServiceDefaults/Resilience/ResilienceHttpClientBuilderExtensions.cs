using Bazaar.ServiceDefaults.Resilience;
using Microsoft.Extensions.Http;

namespace Microsoft.Extensions.DependencyInjection;

public static class ResilienceHttpClientBuilderExtensions
{
    /// <summary>Adds the standard resilience handler (rate limiter, timeouts, retry, circuit breaker) to a client.</summary>
    public static IHttpClientBuilder AddStandardResilienceHandler(this IHttpClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        // Through the handler builder rather than AddHttpMessageHandler: it knows the client's name even when
        // this is called from ConfigureHttpClientDefaults, and the pipeline (with its breaker) is per client.
        static void AddHandler(HttpClientFactoryOptions options) =>
            options.HttpMessageHandlerBuilderActions.Add(handlers => handlers.AdditionalHandlers.Add(new ResilienceHandler(
                handlers.Services.GetRequiredService<HttpResiliencePipelines>().Get(handlers.Name ?? Microsoft.Extensions.Options.Options.DefaultName))));

        if (builder.Name is null)
        {
            builder.Services.ConfigureAll<HttpClientFactoryOptions>(AddHandler);
        }
        else
        {
            builder.Services.Configure<HttpClientFactoryOptions>(builder.Name, AddHandler);
        }

        return builder;
    }

    /// <summary>
    /// Takes the standard resilience handler off one client, for calls whose answer is wanted as it is
    /// (a health probe's 503 is information, not a failure to retry).
    /// </summary>
    public static IHttpClientBuilder RemoveStandardResilienceHandler(this IHttpClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureAdditionalHttpMessageHandlers(static (handlers, _) =>
        {
            for (int i = handlers.Count - 1; i >= 0; i--)
            {
                if (handlers[i] is ResilienceHandler)
                {
                    handlers.RemoveAt(i);
                }
            }
        });
    }
}
