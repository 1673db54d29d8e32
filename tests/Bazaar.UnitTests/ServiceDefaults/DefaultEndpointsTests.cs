using System.Net;
using System.Net.Http.Json;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Bazaar.UnitTests.ServiceDefaults;

public sealed class DefaultEndpointsTests
{
    /// <summary>A real Kestrel on a free loopback port, with the service defaults and whatever the test adds.</summary>
    private static async Task<(WebApplication App, HttpClient Client)> StartAsync(
        string environment,
        Action<WebApplicationBuilder>? configure = null,
        Action<WebApplication>? map = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = environment });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.AddServiceDefaults();
        configure?.Invoke(builder);
        WebApplication app = builder.Build();
        app.MapDefaultEndpoints();
        map?.Invoke(app);
        await app.StartAsync();
        string address = app.Urls.Single();
        return (app, new HttpClient { BaseAddress = new Uri(address) });
    }

    [Fact]
    public async Task Health_reports_every_check_with_its_status_duration_and_error()
    {
        var (app, client) = await StartAsync("Production", builder => builder.Services.AddHealthChecks()
            .AddCheck("catalogdb", () => HealthCheckResult.Healthy("SELECT 1 answered"))
            .AddCheck("cache", () => HealthCheckResult.Unhealthy("PING failed", new TimeoutException("no answer in 5 s"))));
        await using WebApplication _ = app;

        using HttpResponseMessage response = await client.GetAsync("/health");
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        JsonElement root = body.RootElement;
        Assert.Equal("Unhealthy", root.GetProperty("status").GetString());
        Assert.True(root.GetProperty("totalDurationMs").GetDouble() >= 0);
        var checks = root.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!);
        Assert.Equal(["cache", "catalogdb", "self"], checks.Keys.Order());
        Assert.Equal("Healthy", checks["catalogdb"].GetProperty("status").GetString());
        Assert.Equal("SELECT 1 answered", checks["catalogdb"].GetProperty("description").GetString());
        Assert.Equal(JsonValueKind.Null, checks["catalogdb"].GetProperty("error").ValueKind);
        Assert.Equal("Unhealthy", checks["cache"].GetProperty("status").GetString());
        Assert.Equal("TimeoutException: no answer in 5 s", checks["cache"].GetProperty("error").GetString());
        Assert.True(checks["cache"].GetProperty("durationMs").GetDouble() >= 0);
    }

    [Fact]
    public async Task Alive_runs_only_the_liveness_checks()
    {
        var (app, client) = await StartAsync("Production", builder => builder.Services.AddHealthChecks()
            .AddCheck("cache", () => HealthCheckResult.Unhealthy("down")));
        await using WebApplication _ = app;

        using HttpResponseMessage response = await client.GetAsync("/alive");
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", body.RootElement.GetProperty("status").GetString());
        Assert.Equal(["self"], body.RootElement.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Probes_pass_a_service_that_requires_authentication_everywhere_else()
    {
        var (app, client) = await StartAsync("Production", builder =>
        {
            builder.Services.AddAuthentication("none").AddScheme<AuthenticationSchemeOptions, RejectEveryoneHandler>("none", null);
            builder.Services.AddAuthorizationBuilder().SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        }, map: app =>
        {
            app.UseAuthentication();
            app.UseAuthorization();
            app.MapGet("/api/secret", () => TypedResults.Ok());
        });
        await using WebApplication _ = app;

        using HttpResponseMessage secret = await client.GetAsync("/api/secret");
        using HttpResponseMessage health = await client.GetAsync("/health");
        using HttpResponseMessage alive = await client.GetAsync("/alive");

        Assert.Equal(HttpStatusCode.Unauthorized, secret.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }

    private sealed class RejectEveryoneHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync() => Task.FromResult(AuthenticateResult.NoResult());
    }

    [Fact]
    public async Task Adding_the_defaults_twice_changes_nothing()
    {
        var (app, client) = await StartAsync("Production", builder => builder.AddServiceDefaults());
        await using WebApplication _ = app;

        using HttpResponseMessage response = await client.GetAsync("/health");
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(body.RootElement.GetProperty("checks").EnumerateArray());
    }

    [Fact]
    public async Task An_unknown_route_answers_with_problem_details()
    {
        var (app, client) = await StartAsync("Production");
        await using WebApplication _ = app;

        using HttpResponseMessage response = await client.GetAsync("/no-such-thing");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(404, body.RootElement.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task An_unhandled_exception_answers_500_problem_details_without_a_stack_trace_outside_development()
    {
        var (app, client) = await StartAsync("Production", map: app =>
            app.MapGet("/boom", string () => throw new InvalidOperationException("secret internals at Bazaar.Catalog")));
        await using WebApplication _ = app;

        using HttpResponseMessage response = await client.GetAsync("/boom");
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.DoesNotContain("secret internals", body, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", body, StringComparison.Ordinal);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(500, problem.GetProperty("status").GetInt32());
    }

    [Theory]
    [InlineData("Production")]
    [InlineData("Development")]
    public async Task A_backing_service_that_does_not_answer_is_a_503_problem_with_Retry_After_not_a_500(string environment)
    {
        var (app, client) = await StartAsync(environment, map: app =>
            app.MapGet("/cache", string () => throw new TimeoutException("Redis did not answer")));
        await using WebApplication _ = app;

        using HttpResponseMessage response = await client.GetAsync("/cache");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(503, problem.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Bad_input_to_an_endpoint_is_a_400_problem_not_a_500()
    {
        var (app, client) = await StartAsync("Production", map: app =>
            app.MapGet("/items/{id:int}", (int id, int page) => TypedResults.Ok(id + page)));
        await using WebApplication _ = app;

        using HttpResponseMessage response = await client.GetAsync("/items/1?page=abc");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public void Without_a_configured_address_a_service_listens_on_127_0_0_1_only()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });

        builder.AddServiceDefaults();

        Assert.Equal("http://127.0.0.1:5000", builder.Configuration[WebHostDefaults.ServerUrlsKey]);
    }

    [Fact]
    public void A_configured_address_is_kept()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Production",
            Args = ["--urls", "http://127.0.0.1:5123"],
        });

        builder.AddServiceDefaults();

        Assert.Equal("http://127.0.0.1:5123", builder.Configuration[WebHostDefaults.ServerUrlsKey]);
    }
}
