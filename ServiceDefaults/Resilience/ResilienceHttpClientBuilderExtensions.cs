using Bazaar.ServiceDefaults.Resilience;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

public static class ResilienceHttpClientBuilderExtensions
{
    /// <summary>
    /// Adds the standard resilience handler (rate limiter, timeouts, retry, circuit breaker) to a client. With
    /// <paramref name="configure"/>, the client gets options of its own on top of the "Resilience:Http" section, and its
    /// handler replaces the one AddServiceDefaults put on every client.
    /// </summary>
    public static IHttpClientBuilder AddStandardResilienceHandler(this IHttpClientBuilder builder, Action<HttpStandardResilienceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddStandardResilienceCore();
        if (configure is not null)
        {
            if (builder.Name is null)
            {
                builder.Services.ConfigureAll(configure);
            }
            else
            {
                builder.Services.Configure(builder.Name, configure);
            }

            builder.RemoveStandardResilienceHandler();
        }

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

    /// <summary>What every standard resilience handler needs, registered once; options come unbound unless AddStandardResilience binds them.</summary>
    internal static IServiceCollection AddStandardResilienceCore(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<HttpResiliencePipelines>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HttpStandardResilienceOptions>, HttpStandardResilienceOptionsValidator>());
        return services;
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
