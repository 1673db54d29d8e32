using Aspire.Hosting.ApplicationModel;
using Bazaar.Hosting.Lifecycle;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Aspire.Hosting;

public static class LifecycleBuilderExtensions
{
    /// <summary>Every instance of the resource that exits by itself is started again, with back-off (1 s doubling to 30 s).</summary>
    public static IResourceBuilder<T> WithRestartOnCrash<T>(this IResourceBuilder<T> builder)
        where T : IResource
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.ApplicationBuilder.AddCrashRestart();
        return builder.WithAnnotation(new RestartOnCrashAnnotation(), ResourceAnnotationMutationBehavior.Replace);
    }

    /// <summary>Registers the service behind <see cref="WithRestartOnCrash{T}"/> (once), with the back-off to use.</summary>
    public static IDistributedApplicationBuilder AddCrashRestart(this IDistributedApplicationBuilder builder, RestartBackoff? backoff = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (backoff is not null)
        {
            builder.Services.RemoveAll<RestartBackoff>();
        }

        builder.Services.TryAddSingleton(backoff ?? RestartBackoff.Default);
        builder.Services.TryAddSingleton<CrashRestart>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, CrashRestart>(s => s.GetRequiredService<CrashRestart>()));
        return builder;
    }

    /// <summary>Serves <c>GET /api/resources</c> at <paramref name="url"/> (http on loopback) for scripts.</summary>
    public static IDistributedApplicationBuilder AddResourceStateServer(this IDistributedApplicationBuilder builder, string url)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddCrashRestart();
        builder.Services.AddSingleton(new ResourceStateServerOptions(url));
        builder.Services.AddHostedService<ResourceStateServer>();
        return builder;
    }
}
