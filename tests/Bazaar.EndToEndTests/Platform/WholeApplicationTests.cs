using System.Globalization;
using System.Net;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Bazaar.Hosting.Lifecycle;
using Xunit.Abstractions;

namespace Bazaar.EndToEndTests.Platform;

/// <summary>
/// The AppHost as it ships (Projects.Bazaar_AppHost through Aspire.Hosting.Testing, the Aspire dashboard on), on real
/// servers, in a temporary data directory, on free ports: everything comes up healthy (Aspire's notifications and the
/// AppHost's /api/resources), tokens from auth-api open admin routes on every service (a customer's get 403), a
/// customer's order is paid, shipped and delivered, a worker killed in the middle of 200 orders loses none of them, one
/// trace follows an order through order-api, the worker and catalog-api in the dashboard's telemetry API, a killed
/// service comes back, stopping leaves no process behind, and an AppHost started again on the same data directory comes
/// up healthy with the data kept. One model run for all but the last: starting the whole model is the slow part.
/// </summary>
public sealed partial class WholeApplicationTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan RestartDeadline = TimeSpan.FromMinutes(2);
    private static readonly string[] Services = ["auth-api", "catalog-api-0", "catalog-api-1", "order-api", "worker", "admin"];

    private readonly string _adminPassword = "e2e-" + Guid.NewGuid().ToString("N");
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("bazaar-e2e-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private ShopClient _shop = null!;

    [Fact]
    public async Task The_whole_application_starts_healthy_sells_orders_through_a_worker_crash_traces_them_across_services_stops_leaving_no_process_and_starts_again_with_its_data()
    {
        (string Email, string Password) customer;
        string deliveredOrder;

        await using (BazaarAppHost host = await BazaarAppHost.StartAsync(_dataDirectory, _adminPassword, output, builder =>
            // One buyer places the crash step's 200 orders at once; the per-user bucket (20) is tested by the integration tests.
            builder.CreateResourceBuilder((ProjectResource)builder.Resources.Single(r => r.Name == "order-api"))
                .WithEnvironment("Orders__Placement__TokensPerUser", (CrashOrders * 2).ToString(CultureInfo.InvariantCulture))))
        {
            _shop = new ShopClient(host, _http);
            try
            {
                await The_state_endpoint_lists_every_resource_and_replica_as_running_and_healthy(host);
                await Every_service_answers_its_health_endpoint(host);
                await Tokens_from_auth_api_open_admin_routes_and_a_customer_gets_403_on_every_service();
                (customer, deliveredOrder) = await A_customer_order_is_paid_then_shipped_and_delivered_by_the_admin();
                await A_worker_killed_in_the_middle_of_200_orders_loses_none_charges_each_once_and_conserves_stock(host);
                await One_trace_spans_the_POST_the_saga_steps_in_the_worker_and_the_catalog_calls(host);
                await A_killed_service_process_is_restarted(host, "order-api");
            }
            catch
            {
                output.WriteLine(await host.DescribeAsync());
                throw;
            }

            await host.StopAndAssertNoProcessLeftAsync();
        }

        await An_AppHost_started_again_on_the_same_data_directory_comes_up_healthy_with_its_data(customer, deliveredOrder);
    }

    private static async Task The_state_endpoint_lists_every_resource_and_replica_as_running_and_healthy(BazaarAppHost host)
    {
        Dictionary<string, ResourceState> byName = await host.ResourcesAsync();

        Assert.All(BazaarAppHost.LongRunning.Concat(Services), name =>
        {
            Assert.True(byName.ContainsKey(name), $"/api/resources lists {name}");
            Assert.Equal("Running", byName[name].State);
            Assert.Equal("Healthy", byName[name].Health);
        });
        Assert.Equal(("Finished", 0), (byName["mysql-install"].State, byName["mysql-install"].ExitCode));
        Assert.All(Services, name => Assert.True(byName[name].Pid > 0, $"{name} has a pid"));
        Assert.NotEqual(byName["catalog-api-0"].Pid, byName["catalog-api-1"].Pid);
        Assert.NotEmpty(byName["catalog-api"].Endpoints);
    }

    /// <summary>Each service through Aspire's own client for it; each catalog replica at its own address.</summary>
    private async Task Every_service_answers_its_health_endpoint(BazaarAppHost host)
    {
        foreach (string service in new[] { "auth-api", "catalog-api", "order-api", "worker", "admin" })
        {
            using HttpClient client = host.App.CreateHttpClient(service);
            using HttpResponseMessage response = await client.GetAsync("/health");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{service} /health answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        foreach (string replica in new[] { "catalog-api-0", "catalog-api-1" })
        {
            using HttpResponseMessage response = await _http.GetAsync(_shop.ServiceUri(replica, "/health"));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{replica} /health answered {(int)response.StatusCode}");
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

    private async Task Tokens_from_auth_api_open_admin_routes_and_a_customer_gets_403_on_every_service()
    {
        string admin = await _shop.LoginAsync(BazaarAppHost.AdminEmail, _adminPassword);
        string customer = await _shop.RegisterAndLoginAsync();

        foreach ((string service, string method, string path) in AdminRoutes)
        {
            using HttpResponseMessage asCustomer = await _shop.SendAsync(service, method, path, customer);
            Assert.True(asCustomer.StatusCode == HttpStatusCode.Forbidden, $"customer on {service} {method} {path}: {(int)asCustomer.StatusCode}");
            using HttpResponseMessage anonymous = await _shop.SendAsync(service, method, path, token: null);
            Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"anonymous on {service} {method} {path}: {(int)anonymous.StatusCode}");
            using HttpResponseMessage asAdmin = await _shop.SendAsync(service, method, path, admin);
            Assert.True(asAdmin.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden),
                $"admin on {service} {method} {path}: {(int)asAdmin.StatusCode}");
        }
    }

    /// <summary>Returns the customer's credentials and the delivered order, read again after the AppHost restarts.</summary>
    private async Task<((string Email, string Password) Customer, string OrderId)> A_customer_order_is_paid_then_shipped_and_delivered_by_the_admin()
    {
        string admin = await _shop.LoginAsync(BazaarAppHost.AdminEmail, _adminPassword);
        (string email, string password) = await _shop.RegisterAsync();
        string customer = await _shop.LoginAsync(email, password);
        string orderId = await _shop.PlaceOrderAsync(customer, productId: 1);

        await _shop.WaitForOrderStatusAsync(orderId, customer, "Paid");
        foreach ((string action, string status) in new[] { ("ship", "Shipped"), ("deliver", "Delivered") })
        {
            using HttpResponseMessage moved = await _shop.SendAsync("order-api", "POST", $"/api/orders/{orderId}/{action}", admin);
            Assert.True(moved.IsSuccessStatusCode, $"{action}: {(int)moved.StatusCode} {await moved.Content.ReadAsStringAsync()}");
            await _shop.WaitForOrderStatusAsync(orderId, customer, status);
        }

        return ((email, password), orderId);
    }

    private async Task A_killed_service_process_is_restarted(BazaarAppHost host, string service)
    {
        ResourceState after = await host.WaitForRestartAsync(await host.KillAsync(service), RestartDeadline);
        Assert.True(after.Restarts >= 1);
        using HttpResponseMessage response = await _http.GetAsync(_shop.ServiceUri(service, "/health"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>
    /// Replaces "the AppHost started again still lists the trace": Aspire's dashboard keeps telemetry in memory only. What
    /// must survive is the data: the same data directory comes up healthy, the customer signs in again and reads the
    /// delivered order.
    /// </summary>
    private async Task An_AppHost_started_again_on_the_same_data_directory_comes_up_healthy_with_its_data(
        (string Email, string Password) customer, string orderId)
    {
        await using BazaarAppHost host = await BazaarAppHost.StartAsync(_dataDirectory, _adminPassword, output);
        _shop = new ShopClient(host, _http);
        try
        {
            string token = await _shop.LoginAsync(customer.Email, customer.Password);
            await _shop.WaitForOrderStatusAsync(orderId, token, "Delivered");
            Dictionary<string, ResourceState> resources = await host.ResourcesAsync();
            Assert.All(BazaarAppHost.LongRunning, name => Assert.Equal((name, "Healthy", 0), (name, resources[name].Health, resources[name].Restarts)));
        }
        catch
        {
            output.WriteLine(await host.DescribeAsync());
            throw;
        }

        await host.StopAndAssertNoProcessLeftAsync();
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
