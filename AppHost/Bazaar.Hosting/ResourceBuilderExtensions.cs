using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bazaar.Hosting;

/// <summary>Aspire's builder vocabulary. Each method only adds a resource or an annotation; the engine reads them.</summary>
public static class ResourceBuilderExtensions
{
    private static readonly HttpClient HealthClient = new() { Timeout = TimeSpan.FromSeconds(5) };

    public static IResourceBuilder<RedisResource> AddRedis(this IDistributedApplicationBuilder builder, string name, int? port = null) =>
        builder.AddResource(new RedisResource(name, port));

    public static IResourceBuilder<RabbitMQServerResource> AddRabbitMQ(this IDistributedApplicationBuilder builder, string name, int? port = null) =>
        builder.AddResource(new RabbitMQServerResource(name, port));

    public static IResourceBuilder<MySqlServerResource> AddMySql(this IDistributedApplicationBuilder builder, string name, int? port = null) =>
        builder.AddResource(new MySqlServerResource(name, port));

    /// <summary>A database created in the server on its first start; its connection string is ConnectionStrings__{name}.</summary>
    public static IResourceBuilder<MySqlDatabaseResource> AddDatabase(this IResourceBuilder<MySqlServerResource> server, string name, string? databaseName = null)
    {
        var database = new MySqlDatabaseResource(name, databaseName ?? name.Replace('-', '_'), server.Resource);
        server.Resource.AddDatabase(database);
        return server.ApplicationBuilder.AddResource(database);
    }

    /// <summary>A project, by the path of its .csproj (relative to the folder holding Aspire.sln).</summary>
    public static IResourceBuilder<ProjectResource> AddProject(this IDistributedApplicationBuilder builder, string name, string projectPath) =>
        builder.AddResource(new ProjectResource(name, projectPath));

    public static IResourceBuilder<ExecutableResource> AddExecutable(
        this IDistributedApplicationBuilder builder, string name, string command, string workingDirectory, params string[] args) =>
        builder.AddResource(new ExecutableResource(name, command, workingDirectory, args));

    /// <summary>Gives the resource an endpoint (for executables) or sets the preferred port of an existing one.</summary>
    public static IResourceBuilder<T> WithHttpEndpoint<T>(this IResourceBuilder<T> builder, int? port = null, string name = "http")
        where T : IResourceWithEndpoints
    {
        EndpointAnnotation? existing = builder.Resource.Annotations.OfType<EndpointAnnotation>().FirstOrDefault(e => e.Name == name);
        if (existing is not null)
        {
            existing.Port = port;
            return builder;
        }

        return builder.WithAnnotation(new EndpointAnnotation(name, "http", port));
    }

    /// <summary>Sets the preferred port of a server's primary endpoint (a free one is taken when it is busy).</summary>
    public static IResourceBuilder<T> WithPort<T>(this IResourceBuilder<T> builder, int? port)
        where T : BackingServerResource
    {
        builder.Resource.PrimaryEndpoint.Port = port;
        return builder;
    }

    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, string name, string value)
        where T : IResourceWithEnvironment =>
        builder.WithAnnotation(new EnvironmentCallbackAnnotation(context => context.EnvironmentVariables[name] = value));

    /// <summary>Gives the resource a generated secret (the same value to every resource given it).</summary>
    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, string name, GeneratedSecret secret)
        where T : IResourceWithEnvironment =>
        builder.WithAnnotation(new EnvironmentCallbackAnnotation(context => context.EnvironmentVariables[name] = secret.Value));

    public static IResourceBuilder<T> WithEnvironment<T>(this IResourceBuilder<T> builder, Action<EnvironmentCallbackContext> callback)
        where T : IResourceWithEnvironment =>
        builder.WithAnnotation(new EnvironmentCallbackAnnotation(callback));

    public static IResourceBuilder<T> WithArgs<T>(this IResourceBuilder<T> builder, params string[] args)
        where T : IResourceWithEnvironment =>
        builder.WithAnnotation(new CommandLineArgsAnnotation(args));

    /// <summary>ConnectionStrings__{name} = the resource's connection string.</summary>
    public static IResourceBuilder<T> WithReference<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResourceWithConnectionString> source, string? connectionName = null)
        where T : IResourceWithEnvironment
    {
        IResourceWithConnectionString resource = source.Resource;
        string key = $"ConnectionStrings__{connectionName ?? resource.Name}";
        builder.WithAnnotation(new ResourceReferenceAnnotation(resource));
        return builder.WithAnnotation(new EnvironmentCallbackAnnotation(context =>
            context.EnvironmentVariables[key] = resource.GetConnectionString()
                ?? throw new DistributedApplicationException($"'{resource.Name}' has no connection string yet: is it part of this application?")));
    }

    /// <summary>services__{name}__{endpoint}__{i} = the URL of each replica, for service discovery.</summary>
    public static IResourceBuilder<T> WithReference<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResourceWithServiceDiscovery> source)
        where T : IResourceWithEnvironment
    {
        IResourceWithServiceDiscovery resource = source.Resource;
        builder.WithAnnotation(new ResourceReferenceAnnotation(resource));
        return builder.WithAnnotation(new EnvironmentCallbackAnnotation(context =>
        {
            foreach (EndpointAnnotation endpoint in resource.Annotations.OfType<EndpointAnnotation>().Where(e => e.IsExternal))
            {
                for (int replica = 0; replica < endpoint.AllocatedPorts.Count; replica++)
                {
                    string index = replica.ToString(CultureInfo.InvariantCulture);
                    context.EnvironmentVariables[$"services__{resource.Name}__{endpoint.Name}__{index}"] = endpoint.UrlFor(replica);
                }
            }
        }));
    }

    /// <summary>Start only once <paramref name="dependency"/> is running and healthy.</summary>
    public static IResourceBuilder<T> WaitFor<T>(this IResourceBuilder<T> builder, IResourceBuilder<IResource> dependency)
        where T : IResourceWithWaitSupport
    {
        if (ReferenceEquals(builder.Resource, dependency.Resource))
        {
            throw new DistributedApplicationException($"'{builder.Resource.Name}' cannot wait for itself.");
        }

        return builder.WithAnnotation(new WaitAnnotation(dependency.Resource));
    }

    /// <summary>Runs <paramref name="replicas"/> processes, each on its own port; consumers see every one.</summary>
    public static IResourceBuilder<ProjectResource> WithReplicas(this IResourceBuilder<ProjectResource> builder, int replicas)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        foreach (ReplicaAnnotation existing in builder.Resource.Annotations.OfType<ReplicaAnnotation>().ToList())
        {
            builder.Resource.Annotations.Remove(existing);
        }

        return builder.WithAnnotation(new ReplicaAnnotation(replicas));
    }

    /// <summary>
    /// Starts the resource's processes with nice value <paramref name="niceness"/> (1..19; 0 is the default priority):
    /// background work that must yield the CPU to request serving during a peak, and catch up afterwards. Only
    /// lowering is offered, since raising a priority needs privileges the engine should not ask for.
    /// </summary>
    public static IResourceBuilder<T> WithCpuPriority<T>(this IResourceBuilder<T> builder, int niceness)
        where T : IResourceWithEnvironment
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(niceness, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(niceness, 19);
        foreach (CpuPriorityAnnotation existing in builder.Resource.Annotations.OfType<CpuPriorityAnnotation>().ToList())
        {
            builder.Resource.Annotations.Remove(existing);
        }

        return builder.WithAnnotation(new CpuPriorityAnnotation(niceness));
    }

    /// <summary>The resource is healthy when GET {endpoint}{path} answers 2xx.</summary>
    public static IResourceBuilder<T> WithHttpHealthCheck<T>(this IResourceBuilder<T> builder, string path = "/health", string endpointName = "http")
        where T : IResourceWithEndpoints =>
        builder.WithAnnotation(new HealthCheckAnnotation($"http{path}", async (target, cancellationToken) =>
        {
            if (!target.Urls.TryGetValue(endpointName, out string? baseUrl))
            {
                return HealthCheckResult.Unhealthy($"'{target.Resource.Name}' has no endpoint named '{endpointName}'.");
            }

            try
            {
                using HttpResponseMessage response = await HealthClient.GetAsync(new Uri(new Uri(baseUrl), path), cancellationToken).ConfigureAwait(false);
                return response.IsSuccessStatusCode
                    ? HealthCheckResult.Healthy($"GET {path}: {(int)response.StatusCode}")
                    : HealthCheckResult.Unhealthy($"GET {path}: {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return HealthCheckResult.Unhealthy($"GET {baseUrl}{path} failed: {ex.Message}", ex);
            }
        }));

    public static int ReplicaCount(this IResource resource) =>
        resource.Annotations.OfType<ReplicaAnnotation>().LastOrDefault()?.Replicas ?? 1;

    /// <summary>The nice value the resource's processes start with (0 unless <see cref="WithCpuPriority{T}"/> was called).</summary>
    public static int Niceness(this IResource resource) =>
        resource.Annotations.OfType<CpuPriorityAnnotation>().LastOrDefault()?.Niceness ?? 0;
}
