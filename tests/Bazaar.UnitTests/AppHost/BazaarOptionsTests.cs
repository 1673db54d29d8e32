using Bazaar.AppHost;
using Bazaar.Hosting.Lifecycle;

namespace Bazaar.UnitTests.AppHost;

public sealed class BazaarOptionsTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Fact]
    public void The_AppHost_takes_its_own_options_and_leaves_the_rest_to_Aspire()
    {
        BazaarOptions options = BazaarOptions.Parse(
            ["--data-dir", "/tmp/d", "--fresh", "--runtime", "container", "--state-url", "http://127.0.0.1:1234/", "--other", "x"], NoEnvironment);

        Assert.Equal("/tmp/d", options.DataDirectory);
        Assert.True(options.Fresh);
        Assert.Equal(ServerRuntime.Container, options.Runtime);
        Assert.Equal("http://127.0.0.1:1234", options.StateUrl);
        Assert.Equal(["--other", "x"], options.AspireArgs);
        Assert.Equal(BazaarOptions.DefaultDashboardUrl, options.DashboardUrl);
    }

    [Fact]
    public void The_environment_sets_defaults_and_the_command_line_wins()
    {
        var environment = new Dictionary<string, string?>
        {
            ["BAZAAR_DATA_DIR"] = "/from/env",
            ["BAZAAR_DASHBOARD_URL"] = "http://localhost:19999",
            ["BAZAAR_ADMIN_PASSWORD"] = "pw",
        };

        BazaarOptions options = BazaarOptions.Parse(["--data-dir", "/from/args"], name => environment.GetValueOrDefault(name));

        Assert.Equal("/from/args", options.DataDirectory);
        Assert.Equal("http://localhost:19999", options.DashboardUrl);
        Assert.Equal("pw", options.AdminPassword);
    }

    [Theory]
    [InlineData("--dashboard-url", "http://0.0.0.0:18888")]
    [InlineData("--otlp-url", "http://10.1.2.3:18889")]
    [InlineData("--runtime", "vm")]
    [InlineData("--data-dir", "--fresh")]
    public void An_address_off_loopback_or_a_bad_value_is_refused(string option, string value)
    {
        Assert.Throws<ArgumentException>(() => BazaarOptions.Parse([option, value], NoEnvironment));
    }

    [Fact]
    public void Restarts_back_off_from_one_second_doubling_to_thirty()
    {
        RestartBackoff backoff = RestartBackoff.Default;

        Assert.Equal([1, 2, 4, 8, 16, 30, 30], Enumerable.Range(1, 7).Select(n => backoff.Delay(n).TotalSeconds));
        Assert.Equal(TimeSpan.FromMinutes(1), backoff.ResetAfter);
    }
}
