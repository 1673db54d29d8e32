using System.Reflection;
using Bazaar.Hosting.Processes;

namespace Bazaar.Hosting;

/// <summary>Turns a resource replica into the process that runs it: servers, projects (built once) and executables.</summary>
internal sealed class ProcessLauncher(DistributedApplicationOptions options, string dataDirectory, string projectRoot, ResourceLoggerService logs)
{
    private readonly Dictionary<ProjectResource, Task<string>> _builds = [];
    private readonly SemaphoreSlim _buildLock = new(1, 1);

    public string Configuration { get; } = options.Configuration
        ?? typeof(ProcessLauncher).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration
        ?? "Debug";

    public string PidFile(string replicaName) => Path.Combine(dataDirectory, "pids", replicaName + ".pid");

    public ServerLaunchContext ServerContext(BackingServerResource server) =>
        new(Path.Combine(dataDirectory, server.Name), line => logs.Write(server.Name, null, line, isError: false));

    /// <summary>The process spec for one replica; prepares servers and builds projects whose output is missing.</summary>
    public async Task<ProcessSpec> PrepareAsync(IResource resource, int replica, CancellationToken cancellationToken)
    {
        switch (resource)
        {
            case BackingServerResource server when options.Runtime == ContainerRuntime.Docker:
                RequireProgram("docker", "Docker is not installed. Install it (https://docs.docker.com/engine/install/) or run without --runtime docker to use the machine's own servers.");
                Directory.CreateDirectory(Path.Combine(ServerContext(server).DataDirectory, "container"));
                return server.CreateContainerSpec(ServerContext(server));

            case BackingServerResource server:
                RequireProgram(
                    server.ServerProgram,
                    $"'{server.ServerProgram}' was not found: install the '{server.PackageName}' package (sudo apt-get install -y {server.PackageName}), "
                    + $"or start with --runtime docker to run the {server.ContainerImage} container instead.");
                ServerLaunchContext context = ServerContext(server);
                try
                {
                    await server.PrepareAsync(context, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or FileNotFoundException)
                {
                    throw new ResourceLaunchException($"Preparing '{server.Name}' in {context.DataDirectory} failed: {ex.Message}", ex);
                }

                return server.CreateProcessSpec(context);

            case ProjectResource project:
                string assembly = await BuildOnceAsync(project, cancellationToken).ConfigureAwait(false);
                return new ProcessSpec("dotnet", [assembly, .. ExtraArguments(project)])
                {
                    WorkingDirectory = Path.GetDirectoryName(ProjectFile(project)),
                    Environment = ProcessEnvironment.For(project, replica, options),
                    Niceness = project.Niceness(),
                };

            case ExecutableResource executable:
                RequireProgram(executable.Command, $"The program '{executable.Command}' of '{executable.Name}' was not found on PATH.");
                return new ProcessSpec(executable.Command, [.. executable.Arguments, .. ExtraArguments(executable)])
                {
                    WorkingDirectory = Path.GetFullPath(executable.WorkingDirectory, projectRoot),
                    Environment = ProcessEnvironment.For(executable, replica, options),
                    Niceness = executable.Niceness(),
                };

            default:
                throw new ResourceLaunchException($"The engine does not know how to run '{resource.Name}' ({resource.GetType().Name}).");
        }
    }

    public string ProjectFile(ProjectResource project) => Path.GetFullPath(project.ProjectPath, projectRoot);

    /// <summary>bin/{Configuration}/net10.0/{Assembly}.dll next to the project: where the AppHost's own build put it.</summary>
    public string ProjectOutput(ProjectResource project) =>
        Path.Combine(Path.GetDirectoryName(ProjectFile(project))!, "bin", Configuration, "net10.0", project.AssemblyName + ".dll");

    private static IEnumerable<string> ExtraArguments(IResource resource) =>
        resource.Annotations.OfType<CommandLineArgsAnnotation>().SelectMany(a => a.Arguments);

    private static void RequireProgram(string program, string message)
    {
        if (ExecutableLocator.Find(program) is null)
        {
            throw new ResourceLaunchException(message);
        }
    }

    private async Task<string> BuildOnceAsync(ProjectResource project, CancellationToken cancellationToken)
    {
        Task<string> build;
        lock (_builds)
        {
            if (!_builds.TryGetValue(project, out build!) || build.IsFaulted || build.IsCanceled)
            {
                build = BuildAsync(project, cancellationToken);
                _builds[project] = build;
            }
        }

        return await build.ConfigureAwait(false);
    }

    private async Task<string> BuildAsync(ProjectResource project, CancellationToken cancellationToken)
    {
        string projectFile = ProjectFile(project);
        if (!File.Exists(projectFile))
        {
            throw new ResourceLaunchException($"The project file of '{project.Name}' does not exist: {projectFile}");
        }

        string output = ProjectOutput(project);
        if (File.Exists(output))
        {
            return output;
        }

        // Builds run one at a time: concurrent builds of projects sharing libraries fight over obj/ folders.
        await _buildLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (File.Exists(output))
            {
                return output;
            }

            var spec = new ProcessSpec("dotnet", ["build", projectFile, "-c", Configuration, "-nologo", "-clp:ErrorsOnly"])
            {
                WorkingDirectory = projectRoot,
            };
            logs.Write(project.Name, null, $"Building: {spec.CommandLine}", isError: false);
            var tail = new LineTail(20);
            await using ManagedProcess build = ManagedProcess.Start(spec, (line, isError) =>
            {
                logs.Write(project.Name, null, line, isError);
                tail.Add(line);
            });
            int exitCode = await build.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (exitCode != 0 || !File.Exists(output))
            {
                throw new ResourceLaunchException(
                    $"Building '{project.Name}' failed (exit code {exitCode}); expected {output}. Last lines:{Environment.NewLine}{tail}");
            }

            return output;
        }
        finally
        {
            _buildLock.Release();
        }
    }
}
