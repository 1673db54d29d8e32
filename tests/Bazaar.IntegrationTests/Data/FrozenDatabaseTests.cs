using System.Diagnostics;
using System.Globalization;
using System.Net;
using Aspire.Hosting.ApplicationModel;
using Bazaar.Data;
using Bazaar.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using MySqlConnector;
using Xunit.Abstractions;

namespace Bazaar.IntegrationTests.Data;

/// <summary>
/// A database that stops answering (a hung server, a partition: the connection stays, nothing comes back), tried with a
/// real MariaDB of the test's own frozen by SIGSTOP: every request that needs it answers 503 with Retry-After within
/// 10 s, and the service is healthy again within 10 s of SIGCONT.
/// </summary>
public sealed class FrozenDatabaseTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private static readonly SqlStatement Read = new("frozen.read", "SELECT COUNT(*) FROM information_schema.SCHEMATA");

    private TestServers _servers = null!;
    private WebApplication _service = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _servers = await TestServers.StartDedicatedAsync(redis: false, rabbitMq: false, mySql: true);
        string connectionString = await _servers.CreateDatabaseAsync("frozen");

        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:frozendb"] = connectionString });
        builder.AddServiceDefaults();
        builder.AddMySqlDataSource("frozendb");
        _service = builder.Build();
        _service.MapGet("/read", async (MySqlDataSource database, CancellationToken cancellationToken) =>
            await database.WithConnectionAsync((connection, token) => connection.ExecuteScalarAsync<long>(Read, cancellationToken: token), cancellationToken));
        _service.MapDefaultEndpoints();
        await _service.StartAsync();
        _client = _service.GetTestClient();
        _client.Timeout = TimeSpan.FromSeconds(60);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _service.DisposeAsync();
        await _servers.DisposeAsync();
    }

    [Fact]
    public async Task While_MariaDB_is_frozen_reads_and_health_answer_503_within_10_s_and_all_is_well_within_10_s_of_the_thaw()
    {
        // Several idle connections in the pool, as a service has: they stay open while the server is frozen.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ => Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/read")).StatusCode)));
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health")).StatusCode);
        int pid = MariaDbPid();

        Signal("STOP", pid);
        try
        {
            // Requests already in the pool's hands, and requests that need a new connection (more than the idle ones).
            var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => TimedGetAsync("/read")).Append(TimedGetAsync("/health")));
            output.WriteLine("frozen: " + string.Join(", ", answers.Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.Path} {(int)a.Response.StatusCode} in {a.Took.TotalSeconds:0.00} s"))));
            foreach ((string path, HttpResponseMessage response, TimeSpan took) in answers)
            {
                Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{path}: {(int)response.StatusCode} after {took.TotalSeconds:0.0} s");
                Assert.True(took < Deadline, $"{path} answered after {took.TotalSeconds:0.0} s");
                if (path == "/read")
                {
                    Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "Retry-After in seconds");
                }
            }

            // A second wave, once the first has timed out: no request waits behind the frozen ones.
            (string secondPath, HttpResponseMessage second, TimeSpan secondTook) = await TimedGetAsync("/read");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"second wave: {(int)second.StatusCode} in {secondTook.TotalSeconds:0.00} s"));
            Assert.True(second.StatusCode == HttpStatusCode.ServiceUnavailable && secondTook < Deadline,
                $"{secondPath}: {(int)second.StatusCode} after {secondTook.TotalSeconds:0.0} s");
        }
        finally
        {
            Signal("CONT", pid);
        }

        var thawed = Stopwatch.StartNew();
        bool healthy;
        do
        {
            using HttpResponseMessage health = await _client.GetAsync("/health");
            using HttpResponseMessage read = await _client.GetAsync("/read");
            healthy = health.StatusCode == HttpStatusCode.OK && read.StatusCode == HttpStatusCode.OK;
            if (!healthy)
            {
                await Task.Delay(200);
            }
        }
        while (!healthy && thawed.Elapsed < TimeSpan.FromSeconds(30));

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"healthy again {thawed.Elapsed.TotalSeconds:0.00} s after the thaw"));
        Assert.True(healthy, "healthy again after the thaw");
        Assert.True(thawed.Elapsed < Deadline, $"healthy again {thawed.Elapsed.TotalSeconds:0.0} s after the thaw");
    }

    private async Task<(string Path, HttpResponseMessage Response, TimeSpan Took)> TimedGetAsync(string path)
    {
        var clock = Stopwatch.StartNew();
        HttpResponseMessage response = await _client.GetAsync(path);
        return (path, response, clock.Elapsed);
    }

    private int MariaDbPid()
    {
        Assert.True(_servers.Application.ResourceNotifications.TryGetCurrentState(TestServers.MySql, out ResourceEvent? state));
        return Convert.ToInt32(state.Snapshot.Properties.Single(p => p.Name == "executable.pid").Value, CultureInfo.InvariantCulture);
    }

    private static void Signal(string signal, int pid)
    {
        using Process kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]))!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}
