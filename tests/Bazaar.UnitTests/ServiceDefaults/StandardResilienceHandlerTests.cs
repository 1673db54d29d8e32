using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Bazaar.UnitTests.ServiceDefaults;

/// <summary>
/// What Bazaar relies on from Microsoft.Extensions.Http.Resilience as AddServiceDefaults wires it: every HttpClient has the
/// standard resilience handler, its options come from "Resilience:Http", and one client can opt out.
/// </summary>
public sealed class StandardResilienceHandlerTests
{
    private static readonly Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Ok = ScriptedHandler.Status(HttpStatusCode.OK);
    private static readonly Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Unavailable = ScriptedHandler.Status(HttpStatusCode.ServiceUnavailable);

    private static HostApplicationBuilder Builder(Dictionary<string, string?> settings)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        return builder;
    }

    private static IHost HostOver(ScriptedHandler server, Dictionary<string, string?> settings)
    {
        HostApplicationBuilder builder = Builder(settings);
        builder.Services.ConfigureHttpClientDefaults(http => http.ConfigurePrimaryHttpMessageHandler(() => server));
        return builder.Build();
    }

    private static HttpClient Client(IHost host, string name = "catalog") => host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(name);

    [Fact]
    public async Task A_503_is_retried_until_the_service_answers()
    {
        var server = new ScriptedHandler(Unavailable, Unavailable, Ok);
        using IHost host = HostOver(server, new() { ["Resilience:Http:Retry:Delay"] = "00:00:00" });

        using HttpResponseMessage response = await Client(host).GetAsync("http://127.0.0.1:1/items");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, server.CallCount);
    }

    [Fact]
    public async Task A_400_is_never_retried()
    {
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.BadRequest), Ok);
        using IHost host = HostOver(server, new() { ["Resilience:Http:Retry:Delay"] = "00:00:00" });

        using HttpResponseMessage response = await Client(host).GetAsync("http://127.0.0.1:1/items");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1, server.CallCount);
    }

    [Fact]
    public async Task The_number_of_retries_comes_from_the_Resilience_Http_section()
    {
        var server = new ScriptedHandler(Unavailable);
        using IHost host = HostOver(server, new()
        {
            ["Resilience:Http:Retry:Delay"] = "00:00:00",
            ["Resilience:Http:Retry:MaxRetryAttempts"] = "1",
        });

        using HttpResponseMessage response = await Client(host).GetAsync("http://127.0.0.1:1/items");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(2, server.CallCount);
    }

    [Fact]
    public async Task A_Retry_After_header_decides_when_the_next_attempt_goes()
    {
        // The back-off alone would wait 20 s; the server asks for 1 s.
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.ServiceUnavailable, r => r.Headers.RetryAfter = new(TimeSpan.FromSeconds(1))), Ok);
        using IHost host = HostOver(server, new()
        {
            ["Resilience:Http:Retry:Delay"] = "00:00:20",
            ["Resilience:Http:Retry:UseJitter"] = "false",
            ["Resilience:Http:TotalRequestTimeout:Timeout"] = "00:01:00",
        });

        var elapsed = Stopwatch.StartNew();
        using HttpResponseMessage response = await Client(host).GetAsync("http://127.0.0.1:1/items");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.InRange(elapsed.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Options_that_contradict_each_other_stop_the_service_at_start()
    {
        using IHost host = Builder(new()
        {
            ["Resilience:Http:AttemptTimeout:Timeout"] = "00:01:00",
            ["Resilience:Http:TotalRequestTimeout:Timeout"] = "00:00:30",
        }).Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(error.Failures, f => f.Contains("Total request timeout", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_that_removes_the_handlers_sees_the_first_answer()
    {
        HostApplicationBuilder builder = Builder(new() { ["Resilience:Http:Retry:Delay"] = "00:00:00" });
        var server = new ScriptedHandler(Unavailable, Ok);
#pragma warning disable EXTEXP0001 // experimental in Microsoft.Extensions.Http.Resilience 11; the documented way to opt one client out
        builder.Services.AddHttpClient("probe").RemoveAllResilienceHandlers().ConfigurePrimaryHttpMessageHandler(() => server);
#pragma warning restore EXTEXP0001
        using IHost host = builder.Build();

        using HttpResponseMessage response = await Client(host, "probe").GetAsync("http://127.0.0.1:1/health");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(1, server.CallCount);
    }
}
