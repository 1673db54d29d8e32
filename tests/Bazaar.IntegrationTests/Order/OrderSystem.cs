using System.Data.Common;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Bazaar.Catalog.Api;
using Bazaar.Data;
using Bazaar.IntegrationTests.Auth;
using Bazaar.Order.Api;
using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Ordering;
using Bazaar.Order.Api.Placement;
using Bazaar.ServiceDefaults.Authentication;
using Bazaar.Testing;
using Bazaar.Worker;
using Bazaar.Worker.Catalog;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace Bazaar.IntegrationTests.Order;

/// <summary>One service in process with the given settings; <paramref name="wire"/> connects its HttpClients to the others.</summary>
public sealed class ServiceHost<TEntryPoint>(IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? wire = null)
    : WebApplicationFactory<TEntryPoint> where TEntryPoint : class
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach ((string key, string? value) in settings)
        {
            builder.UseSetting(key, value);
        }

        if (wire is not null)
        {
            builder.ConfigureTestServices(wire);
        }

        // BAZAAR_TEST_LOG=/path appends every warning and error of the hosts there, for a failing run's story.
        if (Environment.GetEnvironmentVariable("BAZAAR_TEST_LOG") is { Length: > 0 } path)
        {
            builder.ConfigureLogging(logging => logging.AddProvider(new AppendingLoggerProvider(path, typeof(TEntryPoint).Name)));
        }
    }

    public HttpClient CreateClient(string accessToken)
    {
        HttpClient client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return client;
    }
}

/// <summary>
/// The shop's order path in one test process, on the shared real MariaDB, Redis and RabbitMQ: auth-api, catalog-api,
/// order-api and the worker, each a full host of its own with its own database (order-api and the worker share orderdb,
/// as in the AppHost), one message prefix for all four, and their HttpClients wired to each other's in-process servers.
/// </summary>
public sealed class OrderSystem : IAsyncDisposable
{
    public const string CallbackSecret = "a-test-callback-signing-secret";

    // The shared MariaDB allows 151 connections; four hosts with the driver's default pool of 100 each could take them all.
    // The driver pools by connection string per process, so order-api and the worker (one database) get different sizes:
    // separate pools, as separate processes would have.
    private const string PoolLimit = ";Maximum Pool Size=25";
    private const string WorkerPoolLimit = ";Maximum Pool Size=24";

    private readonly Dictionary<string, string?> _orderSettings;
    private readonly Dictionary<string, string?> _workerSettings;

    private OrderSystem(AuthApiFactory auth, ServiceHost<CatalogApiEntryPoint> catalog, Dictionary<string, string?> orderSettings, Dictionary<string, string?> workerSettings)
    {
        Auth = auth;
        Catalog = catalog;
        _orderSettings = orderSettings;
        _workerSettings = workerSettings;
        Orders = StartOrders();
        Worker = StartWorker();
    }

    public AuthApiFactory Auth { get; }

    public ServiceHost<CatalogApiEntryPoint> Catalog { get; }

    public ServiceHost<OrderApiEntryPoint> Orders { get; }

    public ServiceHost<WorkerEntryPoint> Worker { get; }

    public MySqlDataSource OrderDatabase { get; private set; } = null!;

    /// <param name="adjustOrders">Changes order-api's settings (null removes one).</param>
    /// <param name="adjustWorker">Changes the worker's settings (null removes one).</param>
    public static async Task<OrderSystem> StartAsync(Action<Dictionary<string, string?>>? adjustOrders = null, Action<Dictionary<string, string?>>? adjustWorker = null)
    {
        // The MySQL driver blocks a thread per command; four services in one process need more threads than the pool starts with.
        ThreadPool.GetMinThreads(out int workers, out int completions);
        ThreadPool.SetMinThreads(Math.Max(workers, 200), completions);
        TestServers servers = await TestServers.SharedAsync();
        string messagingPrefix = TestServers.UniqueName("orders") + ".";
        AuthApiFactory auth = await AuthApiFactory.StartAsync();

        var catalogSettings = Common(servers, messagingPrefix);
        catalogSettings["ConnectionStrings:catalogdb"] = await servers.CreateDatabaseAsync("catalogdb") + PoolLimit;
        catalogSettings["Caching:KeyPrefix"] = TestServers.UniqueName("catalog") + ":";
        catalogSettings["Catalog:ReservationSweepInterval"] = "00:00:00.200";
        var catalog = new ServiceHost<CatalogApiEntryPoint>(catalogSettings, services => WireJwks(services, auth));
        _ = catalog.Server;

        string orderDb = await servers.CreateDatabaseAsync("orderdb");
        var orderSettings = Common(servers, messagingPrefix);
        orderSettings["ConnectionStrings:orderdb"] = orderDb + PoolLimit;
        orderSettings["Catalog:BaseAddress"] = "http://localhost";
        string statusChannel = TestServers.UniqueName("orders-status");
        orderSettings["Orders:Stream:Channel"] = statusChannel;
        orderSettings["Orders:Stream:PollInterval"] = "00:00:05";
        // The placement pace counters are read by this system's worker only (the Redis server is shared).
        string paceKeyPrefix = TestServers.UniqueName("orders-pace") + ":";
        orderSettings["Orders:Pace:KeyPrefix"] = paceKeyPrefix;
        adjustOrders?.Invoke(orderSettings);

        var workerSettings = Common(servers, messagingPrefix);
        workerSettings["ConnectionStrings:orderdb"] = orderDb + WorkerPoolLimit;
        workerSettings["Catalog:BaseAddress"] = "http://localhost";
        workerSettings["ServiceAuth:Authority"] = "http://localhost";
        workerSettings["ServiceAuth:ClientId"] = AuthApiFactory.ServiceClientId;
        workerSettings["ServiceAuth:ClientSecret"] = AuthApiFactory.ServiceClientSecret;
        workerSettings["Saga:PaymentTimeout"] = "00:00:02";
        workerSettings["Saga:SweepInterval"] = "00:00:00.100";
        workerSettings["Payments:Latency"] = "00:00:00.005";
        workerSettings["Payments:CallTimeout"] = "00:00:00.500";
        workerSettings["Callbacks:SigningSecret"] = CallbackSecret;
        workerSettings["Callbacks:FirstRetryDelay"] = "00:00:00.200";
        workerSettings["Callbacks:PollInterval"] = "00:00:00.050";
        workerSettings["Orders:Stream:Channel"] = statusChannel;
        workerSettings["Orders:Pace:KeyPrefix"] = paceKeyPrefix;
        adjustWorker?.Invoke(workerSettings);

        var system = new OrderSystem(auth, catalog, orderSettings, workerSettings);
        system.OrderDatabase = new MySqlDataSource(orderDb);
        return system;
    }

    /// <summary>
    /// Another order-api host over the same database and queues (a replica), with settings changed by <paramref name="adjust"/>;
    /// without <paramref name="wireCatalog"/> its catalog calls go over real HTTP to Catalog:BaseAddress. Dispose it.
    /// </summary>
    public ServiceHost<OrderApiEntryPoint> StartOrderReplica(Action<Dictionary<string, string?>>? adjust = null, bool wireCatalog = true)
    {
        var settings = new Dictionary<string, string?>(_orderSettings);
        adjust?.Invoke(settings);
        var host = new ServiceHost<OrderApiEntryPoint>(settings, services =>
        {
            WireJwks(services, Auth);
            if (wireCatalog)
            {
                services.AddHttpClient(nameof(CatalogPrices)).ConfigurePrimaryHttpMessageHandler(() => Catalog.Server.CreateHandler());
            }
        });
        _ = host.Server;
        return host;
    }

    public HttpClient CustomerClient(string subject) => Orders.CreateClient(TestTokens.Customer(subject));

    public HttpClient AdminClient() => Orders.CreateClient(TestTokens.Admin());

    /// <summary>A product with the given stock, created through the catalog's admin API.</summary>
    public async Task<int> CreateProductAsync(int stock, decimal price = 12.50m)
    {
        using HttpClient admin = Catalog.CreateClient(TestTokens.Admin());
        HttpResponseMessage response = await admin.PostAsJsonAsync("/api/catalog/items", new
        {
            sku = TestServers.UniqueName("sku"),
            name = "Flash product",
            description = "Made by an order test.",
            price,
            brandId = 1,
            categoryId = 1,
            availableStock = stock,
        });
        response.EnsureSuccessStatusCode();
        using JsonDocument created = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return created.RootElement.GetProperty("id").GetInt32();
    }

    public async Task<(int Available, int Reserved)> StockAsync(int productId)
    {
        using HttpClient admin = Catalog.CreateClient(TestTokens.Admin());
        using JsonDocument stock = JsonDocument.Parse(await admin.GetStringAsync($"/api/catalog/items/{productId}/stock"));
        return (stock.RootElement.GetProperty("availableStock").GetInt32(), stock.RootElement.GetProperty("reservedStock").GetInt32());
    }

    public static object OrderBody(int productId, int quantity = 1, string paymentMethod = "card", string? callbackUrl = null) => new
    {
        items = new[] { new { productId, quantity } },
        shippingAddress = new { name = "Ada Buyer", line1 = "1 Market Street", city = "Springfield", postalCode = "12345", country = "NL" },
        paymentMethod,
        callbackUrl,
    };

    public static async Task<HttpResponseMessage> PlaceAsync(HttpClient client, object body, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", idempotencyKey ?? Guid.NewGuid().ToString());
        return await client.SendAsync(request);
    }

    /// <summary>One order of one unit by each of <paramref name="buyers"/> buyers, all at once; returns the order ids.</summary>
    public Task<Guid[]> PlaceOneEachAsync(int productId, int buyers, string buyerPrefix) =>
        Task.WhenAll(Enumerable.Range(0, buyers).Select(async buyer =>
        {
            using HttpClient client = CustomerClient($"{buyerPrefix}-{buyer}");
            return (await AcceptedAsync(await PlaceAsync(client, OrderBody(productId)))).OrderId;
        }));

    public static async Task<OrderAccepted> PlaceAcceptedAsync(HttpClient client, object body)
    {
        HttpResponseMessage response = await PlaceAsync(client, body);
        return await AcceptedAsync(response);
    }

    /// <summary>The 202's body; any other answer fails the test with the answer's problem document.</summary>
    public static async Task<OrderAccepted> AcceptedAsync(HttpResponseMessage response)
    {
        if (response.StatusCode != System.Net.HttpStatusCode.Accepted)
        {
            Assert.Fail($"Expected 202, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return (await response.Content.ReadFromJsonAsync<OrderAccepted>())!;
    }

    public static async Task<OrderDetails> GetOrderAsync(HttpClient client, Guid orderId) =>
        (await client.GetFromJsonAsync<OrderDetails>($"/api/orders/{orderId:N}"))!;

    /// <summary>Polls the order until it is in <paramref name="status"/> (fails on another final state or the deadline).</summary>
    public static async Task<OrderDetails> WaitForStatusAsync(HttpClient client, Guid orderId, OrderStatus status, TimeSpan? deadline = null)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan limit = deadline ?? TimeSpan.FromSeconds(30);
        while (true)
        {
            OrderDetails order = await GetOrderAsync(client, orderId);
            if (order.Status == status)
            {
                return order;
            }

            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"Order {orderId} is {order.Status} ({order.StatusReason}), not {status}, after {limit.TotalSeconds:0} s.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(25));
        }
    }

    /// <summary>Orders by status, straight from orderdb.</summary>
    public async Task<Dictionary<string, int>> CountByStatusAsync(IEnumerable<Guid> orderIds)
    {
        string[] ids = orderIds.Select(id => id.ToString("N")).ToArray();
        await using DbConnection connection = await OrderDatabase.OpenConnectionAsync();
        var rows = await connection.QueryAsync<(string Status, int Count)>(
            "SELECT status, COUNT(*) FROM orders WHERE id IN @ids GROUP BY status", new { ids });
        return rows.ToDictionary(row => row.Status, row => row.Count);
    }

    /// <summary>The simulated provider's charges that still hold money, by order id.</summary>
    public async Task<Dictionary<string, int>> HeldChargesAsync()
    {
        await using DbConnection connection = await OrderDatabase.OpenConnectionAsync();
        var rows = await connection.QueryAsync<(string Key, int Count)>(
            "SELECT idempotency_key, COUNT(*) FROM simulated_payment_charges WHERE state = 'Charged' GROUP BY idempotency_key");
        return rows.ToDictionary(row => row.Key, row => row.Count);
    }

    public async ValueTask DisposeAsync()
    {
        await Worker.DisposeAsync();
        await Orders.DisposeAsync();
        await Catalog.DisposeAsync();
        await Auth.DisposeAsync();
    }

    private ServiceHost<OrderApiEntryPoint> StartOrders() => StartOrderReplica();

    private ServiceHost<WorkerEntryPoint> StartWorker()
    {
        var host = new ServiceHost<WorkerEntryPoint>(_workerSettings, services =>
        {
            WireJwks(services, Auth);
            services.AddHttpClient(StockClient.HttpClientName).ConfigurePrimaryHttpMessageHandler(() => Catalog.Server.CreateHandler());
            services.AddHttpClient(ServiceTokenSource.HttpClientName).ConfigurePrimaryHttpMessageHandler(() => Auth.Server.CreateHandler());
        });
        _ = host.Server;
        return host;
    }

    private static Dictionary<string, string?> Common(TestServers servers, string messagingPrefix)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = servers.RedisConnectionString,
            ["ConnectionStrings:messaging"] = servers.RabbitMqConnectionString,
            ["Bazaar:Messaging:Prefix"] = messagingPrefix,
            ["Bazaar:Messaging:RetryDelays:0"] = "00:00:00.200",
            ["Bazaar:Messaging:RetryDelays:1"] = "00:00:01",
            ["Bazaar:Messaging:RetryDelays:2"] = "00:00:02",
            ["services:auth-api:http:0"] = "http://localhost",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach ((string key, string? value) in TestTokens.Settings)
        {
            settings[key] = value;
        }

        return settings;
    }

    private static void WireJwks(IServiceCollection services, AuthApiFactory auth) =>
        services.AddHttpClient(AuthenticationConventions.JwksHttpClientName).ConfigurePrimaryHttpMessageHandler(() => auth.Server.CreateHandler());
}

/// <summary>Appends warnings and errors to a file (see BAZAAR_TEST_LOG).</summary>
internal sealed class AppendingLoggerProvider(string path, string host) : ILoggerProvider
{
    private static readonly Lock Gate = new();

    public ILogger CreateLogger(string categoryName) => new AppendingLogger(path, host, categoryName);

    public void Dispose()
    {
    }

    private sealed class AppendingLogger(string path, string host, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            lock (Gate)
            {
                File.AppendAllText(path, $"{DateTime.UtcNow:HH:mm:ss.fff} {host} {logLevel} {category}: {formatter(state, exception)} {exception?.GetType().Name}: {exception?.Message}\n");
            }
        }
    }
}
