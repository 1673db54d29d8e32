namespace Bazaar.Hosting;

/// <summary>A .NET project: built once, started from its build output with <c>dotnet</c>, one process per replica.</summary>
public sealed class ProjectResource : Resource, IRunnableResource, IResourceWithEnvironment, IResourceWithServiceDiscovery, IResourceWithWaitSupport
{
    public const string HttpEndpointName = "http";

    public ProjectResource(string name, string projectPath)
        : base(name)
    {
        ProjectPath = projectPath;
        HttpEndpoint = new EndpointAnnotation(HttpEndpointName, "http");
        Annotations.Add(HttpEndpoint);
    }

    /// <summary>The .csproj, as given (relative paths start at the project root).</summary>
    public string ProjectPath { get; }

    public EndpointAnnotation HttpEndpoint { get; }

    /// <summary>The assembly name: the project file's name, as the SDK defaults it.</summary>
    public string AssemblyName => Path.GetFileNameWithoutExtension(ProjectPath);
}

/// <summary>Any program, started with its arguments in a working directory.</summary>
public sealed class ExecutableResource(string name, string command, string workingDirectory, IReadOnlyList<string> arguments)
    : Resource(name), IRunnableResource, IResourceWithEnvironment, IResourceWithEndpoints, IResourceWithWaitSupport
{
    public string Command { get; } = command;

    public string WorkingDirectory { get; } = workingDirectory;

    public IReadOnlyList<string> Arguments { get; } = arguments;
}
