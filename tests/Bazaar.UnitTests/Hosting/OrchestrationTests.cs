using Bazaar.Hosting;
using Bazaar.Hosting.Processes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bazaar.UnitTests.Hosting;

/// <summary>The engine driving small real processes (sh): crashes, restarts, failures a person can act on.</summary>
public sealed class OrchestrationTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "bazaar-unit-" + Guid.NewGuid().ToString("N")[..8]);

    private IDistributedApplicationBuilder NewBuilder() => DistributedApplication.CreateBuilder(new DistributedApplicationOptions
    {
        DataDirectory = _dataDirectory,
        DashboardUrl = null,
        ConsoleLogging = false,
        UseFreePorts = true,
        RestartDelay = TimeSpan.FromMilliseconds(50),
        RestartDelayCap = TimeSpan.FromMilliseconds(200),
        StopTimeout = TimeSpan.FromSeconds(5),
    });

    [Fact]
    public async Task A_process_that_crashes_is_restarted_and_its_restarts_are_counted()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        builder.AddExecutable("crashy", "sh", ".", "-c", "echo up; exit 3");
        await using DistributedApplication app = builder.Build();
        using var deadline = new CancellationTokenSource(Deadline);

        await app.StartAsync(deadline.Token);
        ResourceSnapshot snapshot = await Notifications(app).WaitForResourceAsync("crashy", s => s.Restarts >= 2, deadline.Token);

        Assert.Equal(3, snapshot.ExitCode);
        Assert.Contains(Logs(app).GetLogs("crashy"), line => line.Content == "up");
    }

    [Fact]
    public async Task A_restart_asked_for_replaces_the_process_and_counts_in_the_restarts()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        builder.AddExecutable("sleeper", "sleep", ".", "600");
        await using DistributedApplication app = builder.Build();
        using var deadline = new CancellationTokenSource(Deadline);
        await app.StartAsync(deadline.Token);
        int before = (await Notifications(app).WaitForResourceHealthyAsync("sleeper", deadline.Token)).Pid!.Value;

        await app.Services.GetRequiredService<ResourceCommandService>().RestartAsync("sleeper", deadline.Token);
        ResourceSnapshot after = await Notifications(app).WaitForResourceAsync(
            "sleeper", s => s.State == ResourceState.Running && s.Pid is not null && s.Pid != before, deadline.Token);

        Assert.Equal(1, after.Restarts);
    }

    [Fact]
    public async Task A_server_whose_program_is_missing_fails_to_start_naming_the_package_and_the_docker_alternative()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        builder.AddResource(new AbsentServerResource("ghost"));
        await using DistributedApplication app = builder.Build();
        using var deadline = new CancellationTokenSource(Deadline);

        await app.StartAsync(deadline.Token);
        DistributedApplicationException error = await Assert.ThrowsAsync<DistributedApplicationException>(
            () => Notifications(app).WaitForResourceHealthyAsync("ghost", deadline.Token));

        Assert.Contains("apt-get install -y bazaar-ghost-package", error.Message, StringComparison.Ordinal);
        Assert.Contains("--runtime docker", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_resource_waits_until_its_dependency_is_healthy_and_stopping_ends_every_process()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        IResourceBuilder<ExecutableResource> first = builder.AddExecutable("first", "sleep", ".", "600");
        builder.AddExecutable("second", "sleep", ".", "600").WaitFor(first);
        await using DistributedApplication app = builder.Build();
        using var deadline = new CancellationTokenSource(Deadline);

        await app.StartAsync(deadline.Token);
        ResourceSnapshot second = await Notifications(app).WaitForResourceHealthyAsync("second", deadline.Token);
        Notifications(app).TryGetCurrentSnapshot("first", out ResourceSnapshot firstSnapshot);
        await app.StopAsync(deadline.Token);

        Assert.True(firstSnapshot.StartedAt <= second.StartedAt);
        Assert.False(ProcessTable.IsAlive(firstSnapshot.Pid!.Value));
        Assert.False(ProcessTable.IsAlive(second.Pid!.Value));
        Assert.All(Notifications(app).GetCurrentSnapshots(), s => Assert.Equal(ResourceState.Finished, s.State));
    }

    [Fact]
    public async Task A_resource_whose_dependency_failed_to_start_waits_until_a_person_starts_the_dependency_again()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        var server = new AbsentServerResource("ghost");
        IResourceBuilder<AbsentServerResource> ghost = builder.AddResource(server);
        builder.AddExecutable("second", "sleep", ".", "600").WaitFor(ghost);
        await using DistributedApplication app = builder.Build();
        using var deadline = new CancellationTokenSource(Deadline);

        await app.StartAsync(deadline.Token);
        await Notifications(app).WaitForResourceAsync("ghost", s => s.State == ResourceState.FailedToStart, deadline.Token);
        server.Installed = true;
        await app.Services.GetRequiredService<ResourceCommandService>().StartAsync("ghost", deadline.Token);

        // Before, the dependent's wait ended in the dependency's failure: it never started, and stopping threw that failure.
        ResourceSnapshot second = await Notifications(app).WaitForResourceHealthyAsync("second", deadline.Token);
        await app.StopAsync(deadline.Token);
        Assert.False(ProcessTable.IsAlive(second.Pid!.Value));
    }

    [Fact]
    public async Task A_process_left_by_a_killed_AppHost_is_ended_on_the_next_start()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        builder.AddExecutable("sleeper", "sleep", ".", "600");
        await using DistributedApplication first = builder.Build();
        using var deadline = new CancellationTokenSource(Deadline);
        await first.StartAsync(deadline.Token);
        int leftover = (await Notifications(first).WaitForResourceHealthyAsync("sleeper", deadline.Token)).Pid!.Value;
        // The first AppHost stands for one killed with SIGKILL: it stops nothing, its pid file stays in the data directory.

        IDistributedApplicationBuilder again = NewBuilder();
        again.AddExecutable("sleeper", "sleep", ".", "600");
        await using DistributedApplication second = again.Build();
        await second.StartAsync(deadline.Token);

        Assert.False(ProcessTable.IsAlive(leftover));
        await second.StopAsync(deadline.Token);
        // The stand-in is still alive and would restart its sleeper; stop it too.
        await first.StopAsync(deadline.Token);
    }

    [Fact]
    public async Task A_resource_given_a_lower_cpu_priority_runs_at_that_nice_value_and_the_others_at_the_default()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        builder.AddExecutable("background", "sleep", ".", "600").WithCpuPriority(10);
        builder.AddExecutable("foreground", "sleep", ".", "600");
        await using DistributedApplication app = builder.Build();
        using var deadline = new CancellationTokenSource(Deadline);

        await app.StartAsync(deadline.Token);
        int background = (await Notifications(app).WaitForResourceHealthyAsync("background", deadline.Token)).Pid!.Value;
        int foreground = (await Notifications(app).WaitForResourceHealthyAsync("foreground", deadline.Token)).Pid!.Value;
        // The pid is setsid's until setsid (and nice) have executed the program itself.
        await RunsAsync(background, "sleep", deadline.Token);
        await RunsAsync(foreground, "sleep", deadline.Token);

        // nice(1) adds to the nice value it inherits, and a runner may itself run niced.
        int own = NiceValueOf("self");
        Assert.Equal(Math.Min(own + 10, 19), NiceValueOf(background.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(own, NiceValueOf(foreground.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await app.StopAsync(deadline.Token);
    }

    [Fact]
    public void A_cpu_priority_outside_what_nice_offers_without_privileges_is_refused()
    {
        IDistributedApplicationBuilder builder = NewBuilder();
        IResourceBuilder<ExecutableResource> sleeper = builder.AddExecutable("sleeper", "sleep", ".", "600");

        Assert.Throws<ArgumentOutOfRangeException>(() => sleeper.WithCpuPriority(-5));
        Assert.Throws<ArgumentOutOfRangeException>(() => sleeper.WithCpuPriority(20));
    }

    private static async Task RunsAsync(int pid, string program, CancellationToken cancellationToken)
    {
        while (File.ReadAllText($"/proc/{pid}/comm").Trim() != program)
        {
            await Task.Delay(10, cancellationToken);
        }
    }

    // Field 19 of /proc/<pid>/stat, counted after the ")" that closes the command name (which may hold spaces).
    private static int NiceValueOf(string pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[16], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static ResourceNotificationService Notifications(DistributedApplication app) => app.Services.GetRequiredService<ResourceNotificationService>();

    private static ResourceLoggerService Logs(DistributedApplication app) => app.Services.GetRequiredService<ResourceLoggerService>();

    public void Dispose()
    {
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    /// <summary>A server whose program is missing until the test installs it (as `sleep`).</summary>
    private sealed class AbsentServerResource(string name) : BackingServerResource(name, null)
    {
        public volatile bool Installed;

        public override string PackageName => "bazaar-ghost-package";

        public override string ServerProgram => Installed ? "sleep" : "bazaar-no-such-server";

        public override string ContainerImage => "ghost:1";

        public override int ContainerPort => 1;

        protected override string HealthCheckName => "ghost";

        protected override (IReadOnlyDictionary<string, string>, string, IReadOnlyList<string>) ContainerSettings =>
            (new Dictionary<string, string>(), "/data", []);

        public override Task PrepareAsync(ServerLaunchContext context, CancellationToken cancellationToken) => Task.CompletedTask;

        public override ProcessSpec CreateProcessSpec(ServerLaunchContext context) => new(ServerProgram, ["600"]);

        public override Task<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken) =>
            Task.FromResult(Installed ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("not installed"));
    }
}
