using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Bazaar.Caching;

public static class TwoLevelCacheExtensions
{
    /// <summary>
    /// Adds <see cref="TwoLevelCache"/> configured from the "Caching" section, the invalidation listener and a
    /// health check named "cache-levels". Uses the <see cref="IConnectionMultiplexer"/> registered by
    /// AddRedisClient when there is one, and runs in process only when there is not.
    /// </summary>
    public static TBuilder AddTwoLevelCache<TBuilder>(this TBuilder builder, Action<TwoLevelCacheOptions>? configure = null)
        where TBuilder : IHostApplicationBuilder
    {
        OptionsBuilder<TwoLevelCacheOptions> options = builder.Services.AddOptions<TwoLevelCacheOptions>()
            .Bind(builder.Configuration.GetSection(TwoLevelCacheOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton<CacheMetrics>();
        builder.Services.TryAddSingleton(sp => new TwoLevelCache(
            sp.GetRequiredService<IOptions<TwoLevelCacheOptions>>(),
            sp.GetRequiredService<CacheMetrics>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<TwoLevelCache>>(),
            sp.GetService<IConnectionMultiplexer>()));
        builder.Services.AddHostedService<CacheInvalidationListener>();
        builder.Services.AddHealthChecks().AddCheck<TwoLevelCacheHealthCheck>("cache-levels", tags: ["ready"]);
        return builder;
    }
}
