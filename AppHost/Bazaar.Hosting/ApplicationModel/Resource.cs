using System.Collections.ObjectModel;

namespace Bazaar.Hosting;

/// <summary>Marker for everything that hangs off a resource: endpoints, environment, waits, health checks.</summary>
public interface IResourceAnnotation;

public sealed class ResourceAnnotationCollection : Collection<IResourceAnnotation>;

/// <summary>A named part of the application. Behaviour lives in its annotations; the engine reads them.</summary>
public interface IResource
{
    string Name { get; }

    ResourceAnnotationCollection Annotations { get; }
}

public abstract class Resource : IResource
{
    protected Resource(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') || !char.IsAsciiLetterLower(name[0]))
        {
            throw new ArgumentException(
                $"Resource name '{name}' is invalid: use lower-case letters, digits and '-', starting with a letter.", nameof(name));
        }

        Name = name;
    }

    public string Name { get; }

    public ResourceAnnotationCollection Annotations { get; } = [];

    public override string ToString() => Name;
}

/// <summary>A resource other resources connect to with a connection string (ConnectionStrings__{name}).</summary>
public interface IResourceWithConnectionString : IResource
{
    /// <summary>The connection string, once the engine has allocated ports and credentials.</summary>
    string? GetConnectionString();
}

/// <summary>A resource that can be given environment variables.</summary>
public interface IResourceWithEnvironment : IResource;

/// <summary>A resource whose start can wait for others.</summary>
public interface IResourceWithWaitSupport : IResource;

/// <summary>A resource that exposes network endpoints.</summary>
public interface IResourceWithEndpoints : IResource;

/// <summary>A resource reached by others through service discovery (services__{name}__http__N).</summary>
public interface IResourceWithServiceDiscovery : IResourceWithEndpoints;

/// <summary>A resource that lives inside another one (a database inside its server).</summary>
public interface IResourceWithParent : IResource
{
    IResource Parent { get; }
}

/// <summary>A resource the engine runs as one or more processes.</summary>
public interface IRunnableResource : IResource;
