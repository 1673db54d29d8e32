using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Bazaar.Hosting;

public interface IDistributedApplicationBuilder
{
    DistributedApplicationOptions Options { get; }

    /// <summary>Command line and environment, for the model to read (e.g. BAZAAR_ADMIN_PASSWORD).</summary>
    IConfigurationManager Configuration { get; }

    IServiceCollection Services { get; }

    IReadOnlyList<IResource> Resources { get; }

    IResourceBuilder<T> AddResource<T>(T resource)
        where T : IResource;

    IResourceBuilder<T> CreateResourceBuilder<T>(T resource)
        where T : IResource;

    /// <summary>A secret generated once per data directory and shared by the resources given it with WithEnvironment.</summary>
    GeneratedSecret AddSecret(string name);

    /// <summary>Lets the dashboard add its services and endpoints to the engine's web server.</summary>
    IDistributedApplicationBuilder ConfigureDashboard(Action<WebApplicationBuilder> services, Action<WebApplication> endpoints);

    DistributedApplication Build();
}

public interface IResourceBuilder<out T>
    where T : IResource
{
    IDistributedApplicationBuilder ApplicationBuilder { get; }

    T Resource { get; }

    IResourceBuilder<T> WithAnnotation(IResourceAnnotation annotation);
}

internal sealed class ResourceBuilder<T>(IDistributedApplicationBuilder applicationBuilder, T resource) : IResourceBuilder<T>
    where T : IResource
{
    public IDistributedApplicationBuilder ApplicationBuilder { get; } = applicationBuilder;

    public T Resource { get; } = resource;

    public IResourceBuilder<T> WithAnnotation(IResourceAnnotation annotation)
    {
        Resource.Annotations.Add(annotation);
        return this;
    }
}

internal sealed class DistributedApplicationBuilder : IDistributedApplicationBuilder
{
    private readonly List<IResource> _resources = [];
    private readonly List<GeneratedSecret> _secrets = [];
    private readonly List<(Action<WebApplicationBuilder> Services, Action<WebApplication> Endpoints)> _dashboardExtensions = [];

    public DistributedApplicationBuilder(DistributedApplicationOptions options)
    {
        Options = options;
        var configuration = new ConfigurationManager();
        configuration.AddEnvironmentVariables();
        configuration.AddCommandLine(options.Args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains('=', StringComparison.Ordinal)).ToArray());
        Configuration = configuration;
    }

    public DistributedApplicationOptions Options { get; }

    public IConfigurationManager Configuration { get; }

    public IServiceCollection Services { get; } = new ServiceCollection();

    public IReadOnlyList<IResource> Resources => _resources;

    public IResourceBuilder<T> AddResource<T>(T resource)
        where T : IResource
    {
        if (_resources.Any(r => string.Equals(r.Name, resource.Name, StringComparison.OrdinalIgnoreCase)))
        {
            throw new DistributedApplicationException($"Cannot add resource '{resource.Name}': a resource of that name already exists.");
        }

        _resources.Add(resource);
        return CreateResourceBuilder(resource);
    }

    public IResourceBuilder<T> CreateResourceBuilder<T>(T resource)
        where T : IResource => new ResourceBuilder<T>(this, resource);

    public GeneratedSecret AddSecret(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (_secrets.Any(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase)))
        {
            throw new DistributedApplicationException($"Cannot add secret '{name}': a secret of that name already exists.");
        }

        var secret = new GeneratedSecret(name);
        _secrets.Add(secret);
        return secret;
    }

    public IDistributedApplicationBuilder ConfigureDashboard(Action<WebApplicationBuilder> services, Action<WebApplication> endpoints)
    {
        _dashboardExtensions.Add((services, endpoints));
        return this;
    }

    public DistributedApplication Build()
    {
        var model = new DistributedApplicationModel(_resources.ToList()) { Secrets = _secrets.ToList() };
        DependencyGraph.Validate(model);
        return new DistributedApplication(Options, model, Services, _dashboardExtensions.ToList());
    }
}

/// <summary>An error in the model or in starting it, worded for the person running the AppHost.</summary>
public sealed class DistributedApplicationException(string message, Exception? innerException = null) : Exception(message, innerException);

/// <summary>The resources of the application, in declaration order.</summary>
public sealed class DistributedApplicationModel(IReadOnlyList<IResource> resources)
{
    public IReadOnlyList<IResource> Resources { get; } = resources;

    /// <summary>The secrets the engine generates (once per data directory) before anything starts.</summary>
    public IReadOnlyList<GeneratedSecret> Secrets { get; init; } = [];

    public IResource? Find(string name) =>
        Resources.FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase));
}
