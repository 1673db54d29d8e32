using Bazaar.Hosting;

namespace Bazaar.UnitTests.Hosting;

public sealed class CommandLineTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Fact]
    public void Without_arguments_the_defaults_apply()
    {
        DistributedApplicationOptions options = CommandLine.Parse([], NoEnvironment);

        Assert.Equal("http://127.0.0.1:18888", options.DashboardUrl);
        Assert.Equal("http://127.0.0.1:18889", options.OtlpEndpointUrl);
        Assert.Equal(ContainerRuntime.Process, options.Runtime);
        Assert.False(options.Fresh);
        Assert.Null(options.DataDirectory);
    }

    [Fact]
    public void Every_option_is_read_in_both_spellings()
    {
        DistributedApplicationOptions options = CommandLine.Parse(
            ["--data-dir", "/tmp/d", "--fresh", "--runtime=docker", "--dashboard-url", "http://127.0.0.1:19999", "--otlp-url=http://127.0.0.1:4318"],
            NoEnvironment);

        Assert.Equal("/tmp/d", options.DataDirectory);
        Assert.True(options.Fresh);
        Assert.Equal(ContainerRuntime.Docker, options.Runtime);
        Assert.Equal("http://127.0.0.1:19999", options.DashboardUrl);
        Assert.Equal("http://127.0.0.1:4318", options.OtlpEndpointUrl);
    }

    [Fact]
    public void The_dashboard_address_comes_from_the_environment_unless_the_command_line_says_otherwise()
    {
        Func<string, string?> environment = name => name == "BAZAAR_DASHBOARD_URL" ? "http://127.0.0.1:17777" : null;

        Assert.Equal("http://127.0.0.1:17777", CommandLine.Parse([], environment).DashboardUrl);
        Assert.Equal("http://127.0.0.1:16666", CommandLine.Parse(["--dashboard-url", "http://127.0.0.1:16666"], environment).DashboardUrl);
    }

    [Fact]
    public void An_unknown_runtime_is_refused_with_the_usage()
    {
        ArgumentException error = Assert.Throws<ArgumentException>(() => CommandLine.Parse(["--runtime", "podman"], NoEnvironment));

        Assert.Contains("'podman'", error.Message, StringComparison.Ordinal);
        Assert.Contains("--data-dir", error.Message, StringComparison.Ordinal);
    }
}
