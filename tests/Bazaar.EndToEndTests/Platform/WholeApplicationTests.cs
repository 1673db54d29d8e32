using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Bazaar.AppHost;
using Bazaar.Dashboard;
using Bazaar.Hosting;
using Bazaar.Hosting.Processes;
using Bazaar.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Bazaar.EndToEndTests.Platform;

/// <summary>
/// The AppHost's own model (BazaarModel.Configure) with the dashboard, on real servers, in a temporary data directory, on
/// free ports: everything comes up healthy, tokens from auth-api open admin routes on every service (a customer's get
/// 403), a customer's order is paid, shipped and delivered, a worker killed in the middle of 200 orders loses none of
/// them, one trace follows an order through order-api, the worker and catalog-api, a killed service comes back,
/// stopping leaves no process behind, and an AppHost started again on the same data directory still has the trace.
/// One model run for all of it: starting the whole model is the slow part of this project.
/// </summary>
public sealed partial class WholeApplicationTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromMinutes(4);
    private static readonly TimeSpan RestartDeadline = TimeSpan.FromMinutes(2);
    private static readonly string[] Services = ["auth-api", "catalog-api-0", "catalog-api-1", "order-api", "worker", "admin"];

    private readonly string _adminPassword = "e2e-" + Guid.NewGuid().ToString("N");
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "bazaar-e2e-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task The_whole_application_starts_healthy_sells_orders_through_a_worker_crash_traces_them_across_services_stops_leaving_no_process_and_keeps_its_traces()
    {
        IDistributedApplicationBuilder builder = CreateBuilder();
        builder.Configuration["BAZAAR_ADMIN_PASSWORD"] = _adminPassword;
        BazaarModel.Configure(builder);
        builder.AddDashboard();
        // One buyer places the crash step's 200 orders at once; the per-user bucket (20) is tested by the integration tests.
        builder.CreateResourceBuilder((ProjectResource)builder.Resources.Single(r => r.Name == "order-api"))
            .WithEnvironment("Orders__Placement__TokensPerUser", (CrashOrders * 2).ToString(CultureInfo.InvariantCulture));
        var pidsSeen = new ConcurrentDictionary<int, string>();
        string traceId;

        await using (DistributedApplication app = builder.Build())
        {
            ResourceNotificationService notifications = app.Services.GetRequiredService<ResourceNotificationService>();
            using var watching = new CancellationTokenSource();
            Task watch = RecordPidsAsync(notifications, pidsSeen, watching.Token);
            try
            {
                var clock = Stopwatch.StartNew();
                await app.StartAsync();
                await WaitUntilEverythingIsHealthyAsync(app, StartDeadline);
                output.WriteLine($"Every resource healthy {clock.Elapsed.TotalSeconds:0.0} s after start.");

                await The_state_endpoint_lists_every_resource_and_replica_as_running_and_healthy(app);
                await Every_service_answers_its_health_endpoint(notifications);
                await Tokens_from_auth_api_open_admin_routes_and_a_customer_gets_403_on_every_service(notifications);
                await A_customer_order_is_paid_then_shipped_and_delivered_by_the_admin(notifications);
                await A_worker_killed_in_the_middle_of_200_orders_loses_none_charges_each_once_and_conserves_stock(app, notifications);
                traceId = await One_trace_spans_the_POST_the_saga_steps_in_the_worker_and_the_catalog_calls(app, notifications);
                await A_killed_service_process_is_restarted(notifications, "order-api");
            }
            finally
            {
                await app.StopAsync();
                await watching.CancelAsync();
                await watch.ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        await An_AppHost_started_again_on_the_same_data_directory_still_lists_the_trace(traceId, pidsSeen);

        Assert.NotEmpty(pidsSeen);
        IEnumerable<string> left = pidsSeen.Keys
            .SelectMany(pid => ProcessTable.GroupMembers(pid))
            .Select(p => $"{p.Pid} {p.Command} (started for {pidsSeen.GetValueOrDefault(p.ProcessGroupId)})");
        Assert.Empty(left);
    }

    /// <summary>Free ports everywhere, the OTLP receiver included, so the test runs beside a developer's AppHost.</summary>
    private IDistributedApplicationBuilder CreateBuilder() => DistributedApplication.CreateBuilder(new DistributedApplicationOptions
    {
        DataDirectory = _dataDirectory,
        UseFreePorts = true,
        DashboardUrl = "http://127.0.0.1:0",
        OtlpEndpointUrl = "http://127.0.0.1:" + Loopback.FreePort().ToString(CultureInfo.InvariantCulture),
        ConsoleLogging = false,
        RestartDelay = TimeSpan.FromMilliseconds(500),
    });

    private async Task The_state_endpoint_lists_every_resource_and_replica_as_running_and_healthy(DistributedApplication app)
    {
        using JsonDocument resources = JsonDocument.Parse(await _http.GetStringAsync(new Uri(new Uri(app.DashboardUrl!), "/api/resources")));
        Dictionary<string, JsonElement> byName = resources.RootElement.EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);

        string[] expected = ["cache", "messaging", "mysql", "catalogdb", "orderdb", "authdb", "catalog-api", .. Services];
        Assert.All(expected, name =>
        {
            Assert.True(byName.ContainsKey(name), $"/api/resources lists {name}");
            Assert.Equal("Running", byName[name].GetProperty("state").GetString());
            Assert.Equal("Healthy", byName[name].GetProperty("health").GetString());
        });
        Assert.Equal(2, byName["catalog-api"].GetProperty("endpoints").GetArrayLength());
        Assert.True(byName["catalog-api-1"].GetProperty("pid").GetInt32() > 0);
    }

    private async Task Every_service_answers_its_health_endpoint(ResourceNotificationService notifications)
    {
        foreach (string service in Services)
        {
            Assert.True(notifications.TryGetCurrentSnapshot(service, out ResourceSnapshot snapshot));
            using HttpResponseMessage response = await _http.GetAsync(new Uri(new Uri(snapshot.Endpoints.Single()), "/health"));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{service} /health answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static readonly (string Service, string Method, string Path)[] AdminRoutes =
    [
        ("auth-api", "GET", "/api/auth/users"),
        ("catalog-api-0", "GET", "/api/catalog/items/1/stock"),
        ("catalog-api-1", "GET", "/api/catalog/items/1/stock"),
        ("order-api", "POST", "/api/orders/00000000000000000000000000000000/ship"),
        ("worker", "GET", "/api/messaging/dead-letters/worker"),
    ];

    private async Task Tokens_from_auth_api_open_admin_routes_and_a_customer_gets_403_on_every_service(ResourceNotificationService notifications)
    {
        string admin = await LoginAsync(notifications, "admin@bazaar.local", _adminPassword);
        string customer = await RegisterAndLoginAsync(notifications);

        foreach ((string service, string method, string path) in AdminRoutes)
        {
            using HttpResponseMessage asCustomer = await SendAsync(notifications, service, method, path, customer);
            Assert.True(asCustomer.StatusCode == HttpStatusCode.Forbidden, $"customer on {service} {method} {path}: {(int)asCustomer.StatusCode}");
            using HttpResponseMessage anonymous = await SendAsync(notifications, service, method, path, token: null);
            Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"anonymous on {service} {method} {path}: {(int)anonymous.StatusCode}");
            using HttpResponseMessage asAdmin = await SendAsync(notifications, service, method, path, admin);
            Assert.True(asAdmin.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden),
                $"admin on {service} {method} {path}: {(int)asAdmin.StatusCode}");
        }
    }

    private async Task A_customer_order_is_paid_then_shipped_and_delivered_by_the_admin(ResourceNotificationService notifications)
    {
        string admin = await LoginAsync(notifications, "admin@bazaar.local", _adminPassword);
        string customer = await RegisterAndLoginAsync(notifications);
        string orderId = await PlaceOrderAsync(_http, notifications, customer, productId: 1);

        await WaitForOrderStatusAsync(notifications, orderId, customer, "Paid");
        foreach ((string action, string status) in new[] { ("ship", "Shipped"), ("deliver", "Delivered") })
        {
            using HttpResponseMessage moved = await SendAsync(notifications, "order-api", "POST", $"/api/orders/{orderId}/{action}", admin);
            Assert.True(moved.IsSuccessStatusCode, $"{action}: {(int)moved.StatusCode} {await moved.Content.ReadAsStringAsync()}");
            await WaitForOrderStatusAsync(notifications, orderId, customer, status);
        }
    }

    private static Task<string> PlaceOrderAsync(HttpClient http, ResourceNotificationService notifications, string token, int productId, string? traceparent = null) =>
        new ShopClient(notifications, http).PlaceOrderAsync(token, productId, traceparent);

    private Task WaitForOrderStatusAsync(ResourceNotificationService notifications, string orderId, string token, string status) =>
        Shop(notifications).WaitForOrderStatusAsync(orderId, token, status);

    private Task<string> RegisterAndLoginAsync(ResourceNotificationService notifications) => Shop(notifications).RegisterAndLoginAsync();

    private Task<string> LoginAsync(ResourceNotificationService notifications, string email, string password) =>
        Shop(notifications).LoginAsync(email, password);

    private Task<HttpResponseMessage> SendAsync(ResourceNotificationService notifications, string service, string method, string path, string? token) =>
        Shop(notifications).SendAsync(service, method, path, token);

    private static Uri ServiceUri(ResourceNotificationService notifications, string service, string path) =>
        ShopClient.ServiceUri(notifications, service, path);

    /// <summary>The shared helpers (ShopClient) on this test's HttpClient.</summary>
    private ShopClient Shop(ResourceNotificationService notifications) => new(notifications, _http);

    private async Task A_killed_service_process_is_restarted(ResourceNotificationService notifications, string service)
    {
        ResourceSnapshot after = await WaitForRestartAsync(notifications, Kill(notifications, service));
        using HttpResponseMessage response = await _http.GetAsync(new Uri(new Uri(after.Endpoints.Single()), "/health"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>SIGKILL (Process.Kill on Unix): no shutdown code runs, as in a crash. Returns the snapshot from before.</summary>
    private static ResourceSnapshot Kill(ResourceNotificationService notifications, string service)
    {
        Assert.True(notifications.TryGetCurrentSnapshot(service, out ResourceSnapshot before));
        Process.GetProcessById(before.Pid!.Value).Kill();
        return before;
    }

    /// <summary>Waits until the engine has replaced the killed process with a new, healthy one.</summary>
    private async Task<ResourceSnapshot> WaitForRestartAsync(ResourceNotificationService notifications, ResourceSnapshot before)
    {
        using var deadline = new CancellationTokenSource(RestartDeadline);
        ResourceSnapshot after = await notifications.WaitForResourceAsync(
            before.Name, s => s.IsHealthy && s.Restarts == before.Restarts + 1 && s.Pid != before.Pid, deadline.Token);
        output.WriteLine($"{before.Name}: pid {before.Pid} killed, back as pid {after.Pid}, restarts {after.Restarts}.");
        return after;
    }

    private static async Task WaitUntilEverythingIsHealthyAsync(DistributedApplication app, TimeSpan timeout)
    {
        ResourceNotificationService notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await foreach (ResourceSnapshot _ in notifications.WatchAsync(deadline.Token))
            {
                if (notifications.GetCurrentSnapshots().All(s => s.IsHealthy))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            ResourceLoggerService logs = app.Services.GetRequiredService<ResourceLoggerService>();
            IEnumerable<string> stuck = notifications.GetCurrentSnapshots().Where(s => !s.IsHealthy).Select(s =>
                $"{s.Name}: {s.State}/{s.Health} {string.Join("; ", s.HealthChecks.Select(c => $"{c.Name}={c.Status} {c.Description}"))}"
                + Environment.NewLine + (s.Message ?? string.Join(Environment.NewLine, logs.FailureTail(s.Name, 15))));
            Assert.Fail($"Not every resource was healthy within {timeout.TotalSeconds} s:{Environment.NewLine}{string.Join(Environment.NewLine, stuck)}");
        }
    }

    private static async Task RecordPidsAsync(ResourceNotificationService notifications, ConcurrentDictionary<int, string> pids, CancellationToken cancellationToken)
    {
        await foreach (ResourceSnapshot snapshot in notifications.WatchAsync(cancellationToken))
        {
            if (snapshot.Pid is int pid)
            {
                pids[pid] = snapshot.Name;
            }
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }
}
