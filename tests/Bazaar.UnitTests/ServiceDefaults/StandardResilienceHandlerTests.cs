using System.Net;
using Bazaar.ServiceDefaults.Resilience;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;

namespace Bazaar.UnitTests.ServiceDefaults;

public sealed class StandardResilienceHandlerTests
{
    private readonly ManualTimeProvider clock = new();

    private static readonly Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Ok = ScriptedHandler.Status(HttpStatusCode.OK);
    private static readonly Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Unavailable = ScriptedHandler.Status(HttpStatusCode.ServiceUnavailable);

    /// <summary>The standard options with back-off delays of zero, so retries happen without moving the clock.</summary>
    private static HttpStandardResilienceOptions ImmediateRetries()
    {
        var options = new HttpStandardResilienceOptions();
        options.Retry.Delay = TimeSpan.Zero;
        options.Retry.UseJitter = false;
        return options;
    }

    private HttpClient ClientOver(ScriptedHandler server, HttpStandardResilienceOptions options) =>
        new(new ResilienceHandler(HttpStandardResiliencePipeline.Create(options, clock)) { InnerHandler = server });

    [Fact]
    public async Task A_503_is_retried_until_the_service_answers()
    {
        var server = new ScriptedHandler(Unavailable, Unavailable, Ok);
        using HttpClient client = ClientOver(server, ImmediateRetries());

        using HttpResponseMessage response = await client.GetAsync("http://127.0.0.1:1/items");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, server.CallCount);
    }

    [Fact]
    public async Task A_400_is_never_retried()
    {
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.BadRequest), Ok);
        using HttpClient client = ClientOver(server, ImmediateRetries());

        using HttpResponseMessage response = await client.GetAsync("http://127.0.0.1:1/items");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1, server.CallCount);
    }

    [Fact]
    public async Task A_failed_connection_is_retried()
    {
        var server = new ScriptedHandler(ScriptedHandler.Throws(new HttpRequestException("connection refused")), Ok);
        using HttpClient client = ClientOver(server, ImmediateRetries());

        using HttpResponseMessage response = await client.GetAsync("http://127.0.0.1:1/items");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, server.CallCount);
    }

    [Fact]
    public async Task After_three_retries_the_last_failure_is_returned()
    {
        var server = new ScriptedHandler(Unavailable);
        using HttpClient client = ClientOver(server, ImmediateRetries());

        using HttpResponseMessage response = await client.GetAsync("http://127.0.0.1:1/items");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(4, server.CallCount);
    }

    [Fact]
    public async Task Without_Retry_After_the_back_off_doubles_from_two_seconds()
    {
        var options = new HttpStandardResilienceOptions();
        options.Retry.UseJitter = false;
        var server = new ScriptedHandler(Unavailable, Unavailable, Ok);
        using HttpClient client = ClientOver(server, options);

        Task<HttpResponseMessage> call = client.GetAsync("http://127.0.0.1:1/items");

        await Eventually.HoldsAsync(() => clock.PendingTimers.Contains(TimeSpan.FromSeconds(2)), "the first retry waits 2 s");
        Assert.Equal(1, server.CallCount);
        clock.Advance(TimeSpan.FromSeconds(2));
        await Eventually.HoldsAsync(() => clock.PendingTimers.Contains(TimeSpan.FromSeconds(4)), "the second retry waits 4 s");
        Assert.Equal(2, server.CallCount);
        clock.Advance(TimeSpan.FromSeconds(4));

        using HttpResponseMessage response = await call;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, server.CallCount);
    }

    [Fact]
    public async Task A_Retry_After_header_decides_when_the_next_attempt_goes()
    {
        var server = new ScriptedHandler(
            ScriptedHandler.Status(HttpStatusCode.TooManyRequests, r => r.Headers.RetryAfter = new(TimeSpan.FromSeconds(7))),
            Ok);
        using HttpClient client = ClientOver(server, ImmediateRetries());

        Task<HttpResponseMessage> call = client.GetAsync("http://127.0.0.1:1/items");

        await Eventually.HoldsAsync(() => clock.PendingTimers.Contains(TimeSpan.FromSeconds(7)), "a retry waits the 7 s the server asked for");
        clock.Advance(TimeSpan.FromSeconds(7) - TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, server.CallCount);
        Assert.False(call.IsCompleted);

        clock.Advance(TimeSpan.FromMilliseconds(1));
        using HttpResponseMessage response = await call;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, server.CallCount);
    }

    [Fact]
    public async Task A_Retry_After_date_is_counted_from_the_clock()
    {
        DateTimeOffset inFiveSeconds = clock.GetUtcNow().AddSeconds(5);
        var server = new ScriptedHandler(
            ScriptedHandler.Status(HttpStatusCode.ServiceUnavailable, r => r.Headers.RetryAfter = new(inFiveSeconds)),
            Ok);
        using HttpClient client = ClientOver(server, ImmediateRetries());

        Task<HttpResponseMessage> call = client.GetAsync("http://127.0.0.1:1/items");

        await Eventually.HoldsAsync(() => clock.PendingTimers.Contains(TimeSpan.FromSeconds(5)), "a retry waits until the date the server gave");
        clock.Advance(TimeSpan.FromSeconds(5));
        using HttpResponseMessage response = await call;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task An_attempt_that_hangs_times_out_and_is_retried()
    {
        var server = new ScriptedHandler(ScriptedHandler.Hangs(), Ok);
        using HttpClient client = ClientOver(server, ImmediateRetries());

        Task<HttpResponseMessage> call = client.GetAsync("http://127.0.0.1:1/items");

        await Eventually.HoldsAsync(() => server.CallCount == 1 && clock.PendingTimers.Contains(TimeSpan.FromSeconds(10)), "the attempt timeout is armed");
        clock.Advance(TimeSpan.FromSeconds(10));
        using HttpResponseMessage response = await call;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, server.CallCount);
    }

    [Fact]
    public async Task The_circuit_opens_after_too_many_failures_and_closes_after_the_break()
    {
        HttpStandardResilienceOptions options = ImmediateRetries();
        options.Retry.MaxRetryAttempts = 1;
        options.CircuitBreaker.MinimumThroughput = 2;
        options.CircuitBreaker.FailureRatio = 0.5;
        var server = new ScriptedHandler(Unavailable, Unavailable, Ok);
        using HttpClient client = ClientOver(server, options);

        using (HttpResponseMessage failed = await client.GetAsync("http://127.0.0.1:1/items"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        }

        await Assert.ThrowsAsync<BrokenCircuitException>(() => client.GetAsync("http://127.0.0.1:1/items"));
        Assert.Equal(2, server.CallCount);

        clock.Advance(TimeSpan.FromSeconds(5));
        using HttpResponseMessage recovered = await client.GetAsync("http://127.0.0.1:1/items");
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
        using HttpResponseMessage again = await client.GetAsync("http://127.0.0.1:1/items");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(4, server.CallCount);
    }

    [Fact]
    public void The_defaults_are_those_of_AddStandardResilienceHandler()
    {
        var options = new HttpStandardResilienceOptions();

        Assert.Equal(1000, options.RateLimiter.DefaultRateLimiterOptions.PermitLimit);
        Assert.Equal(0, options.RateLimiter.DefaultRateLimiterOptions.QueueLimit);
        Assert.Equal(TimeSpan.FromSeconds(30), options.TotalRequestTimeout.Timeout);
        Assert.Equal(3, options.Retry.MaxRetryAttempts);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Retry.Delay);
        Assert.Equal(Polly.DelayBackoffType.Exponential, options.Retry.BackoffType);
        Assert.True(options.Retry.UseJitter);
        Assert.True(options.Retry.ShouldRetryAfterHeader);
        Assert.Equal(0.1, options.CircuitBreaker.FailureRatio);
        Assert.Equal(100, options.CircuitBreaker.MinimumThroughput);
        Assert.Equal(TimeSpan.FromSeconds(30), options.CircuitBreaker.SamplingDuration);
        Assert.Equal(TimeSpan.FromSeconds(5), options.CircuitBreaker.BreakDuration);
        Assert.Equal(TimeSpan.FromSeconds(10), options.AttemptTimeout.Timeout);
    }

    [Fact]
    public void Options_bind_from_the_Resilience_Http_section()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Resilience:Http:Retry:MaxRetryAttempts"] = "5",
            ["Resilience:Http:Retry:BackoffType"] = "Linear",
            ["Resilience:Http:CircuitBreaker:BreakDuration"] = "00:00:12",
            ["Resilience:Http:RateLimiter:DefaultRateLimiterOptions:PermitLimit"] = "50",
        });
        builder.AddServiceDefaults();
        using IHost host = builder.Build();

        HttpStandardResilienceOptions options = host.Services.GetRequiredService<IOptions<HttpStandardResilienceOptions>>().Value;

        Assert.Equal(5, options.Retry.MaxRetryAttempts);
        Assert.Equal(Polly.DelayBackoffType.Linear, options.Retry.BackoffType);
        Assert.Equal(TimeSpan.FromSeconds(12), options.CircuitBreaker.BreakDuration);
        Assert.Equal(50, options.RateLimiter.DefaultRateLimiterOptions.PermitLimit);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Retry.Delay);
    }

    [Fact]
    public async Task Options_that_contradict_each_other_stop_the_service_at_start()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Resilience:Http:AttemptTimeout:Timeout"] = "00:01:00",
            ["Resilience:Http:CircuitBreaker:FailureRatio"] = "3",
        });
        builder.AddServiceDefaults();
        using IHost host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(error.Failures, f => f.Contains("AttemptTimeout", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("FailureRatio", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_given_options_of_its_own_keeps_one_handler_with_them()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        builder.Configuration["Resilience:Http:Retry:Delay"] = "00:00:00";
        builder.AddServiceDefaults();
        var ownServer = new ScriptedHandler(Unavailable);
        var defaultServer = new ScriptedHandler(Unavailable);
        builder.Services.AddHttpClient("payments")
            .AddStandardResilienceHandler(options => options.Retry.MaxRetryAttempts = 1)
            .ConfigurePrimaryHttpMessageHandler(() => ownServer);
        builder.Services.AddHttpClient("catalog").ConfigurePrimaryHttpMessageHandler(() => defaultServer);
        using IHost host = builder.Build();
        var clients = host.Services.GetRequiredService<IHttpClientFactory>();

        using (await clients.CreateClient("payments").GetAsync("http://127.0.0.1:1/pay")) { }
        using (await clients.CreateClient("catalog").GetAsync("http://127.0.0.1:1/items")) { }

        Assert.Equal(2, ownServer.CallCount);
        Assert.Equal(4, defaultServer.CallCount);
    }

    [Fact]
    public async Task Retries_and_circuit_changes_are_logged_and_counted()
    {
        string clientName = $"events-{Guid.NewGuid():N}";
        var logger = new CollectingLogger();
        var counted = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ResilienceEvents.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            var byName = tags.ToArray().ToDictionary(t => t.Key, t => t.Value);
            if (Equals(byName["http.client.name"], clientName))
            {
                counted.Enqueue((string)byName["bazaar.resilience.event"]!);
            }
        });
        listener.Start();
        HttpStandardResilienceOptions options = ImmediateRetries();
        options.Retry.MaxRetryAttempts = 1;
        options.CircuitBreaker.MinimumThroughput = 2;
        options.CircuitBreaker.FailureRatio = 0.5;
        var server = new ScriptedHandler(Unavailable, Unavailable, Ok);
        using var client = new HttpClient(new ResilienceHandler(HttpStandardResiliencePipeline.Create(options, clock, new ResilienceEvents(logger, clientName)))
        {
            InnerHandler = server,
        });

        using (await client.GetAsync("http://catalog-api/api/items/7?secret=1")) { }
        clock.Advance(TimeSpan.FromSeconds(5));
        using (await client.GetAsync("http://catalog-api/api/items/7")) { }

        Assert.Equal(["retry", "circuit_opened", "circuit_half_opened", "circuit_closed"], counted);
        Assert.Contains(logger.Lines, l => l.Contains("GET http://catalog-api/api/items/7 failed with HTTP 503; retry 1", StringComparison.Ordinal));
        Assert.Contains(logger.Lines, l => l.Contains("circuit opened for 5000 ms", StringComparison.Ordinal));
        Assert.Contains(logger.Lines, l => l.Contains("circuit closed", StringComparison.Ordinal));
        Assert.DoesNotContain(logger.Lines, l => l.Contains("secret", StringComparison.Ordinal));
    }

    private sealed class CollectingLogger : Microsoft.Extensions.Logging.ILogger
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> lines = new();

        public IReadOnlyList<string> Lines => [.. lines];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue(formatter(state, exception));
    }
}
