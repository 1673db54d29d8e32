using System.Net;
using Bazaar.ServiceDefaults.Discovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bazaar.UnitTests.ServiceDefaults;

public sealed class ServiceDiscoveryTests
{
    private static readonly Dictionary<string, string?> TwoCatalogReplicas = new()
    {
        ["services:catalog-api:http:0"] = "http://127.0.0.1:5101",
        ["services:catalog-api:http:1"] = "http://127.0.0.1:5102",
    };

    private static HttpClient ClientOver(ScriptedHandler server, Dictionary<string, string?> settings)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new HttpClient(new ServiceDiscoveryHandler(new ServiceEndpointResolver(configuration)) { InnerHandler = server });
    }

    [Fact]
    public async Task Requests_to_a_service_name_take_its_replicas_in_turn()
    {
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.OK));
        using HttpClient client = ClientOver(server, TwoCatalogReplicas);

        for (int i = 0; i < 4; i++)
        {
            using HttpResponseMessage response = await client.GetAsync("http://catalog-api/api/items?page=2");
        }

        Assert.Equal(
            ["http://127.0.0.1:5101/api/items?page=2", "http://127.0.0.1:5102/api/items?page=2", "http://127.0.0.1:5101/api/items?page=2", "http://127.0.0.1:5102/api/items?page=2"],
            server.Calls.Select(u => u.AbsoluteUri));
    }

    [Fact]
    public async Task The_request_keeps_its_logical_address_after_it_was_sent()
    {
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.OK));
        using HttpClient client = ClientOver(server, TwoCatalogReplicas);

        using HttpResponseMessage response = await client.GetAsync("http://catalog-api/api/items");

        Assert.Equal("http://catalog-api/api/items", response.RequestMessage!.RequestUri!.AbsoluteUri);
    }

    [Fact]
    public async Task An_unknown_service_name_fails_with_the_configuration_key_to_set()
    {
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.OK));
        using HttpClient client = ClientOver(server, TwoCatalogReplicas);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetAsync("http://basket-api/api/basket"));

        Assert.Contains("'services:basket-api:http:0'", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.CallCount);
    }

    [Theory]
    [InlineData("https+http://catalog-api/api/items", "http://127.0.0.1:5101/api/items")]
    [InlineData("http+https://payments/api/pay", "https://127.0.0.1:7443/api/pay")]
    public async Task A_combined_scheme_takes_the_first_scheme_that_has_endpoints(string address, string reached)
    {
        var settings = new Dictionary<string, string?>(TwoCatalogReplicas) { ["services:payments:https:0"] = "https://127.0.0.1:7443" };
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.OK));
        using HttpClient client = ClientOver(server, settings);

        using HttpResponseMessage response = await client.GetAsync(address);

        Assert.Equal(reached, server.Calls.Single().AbsoluteUri);
    }

    [Theory]
    [InlineData("http://localhost:8080/x")]
    [InlineData("http://127.0.0.1:8080/x")]
    [InlineData("http://[::1]:8080/x")]
    [InlineData("https://api.example.com/x")]
    public async Task Real_host_names_are_left_alone(string address)
    {
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.OK));
        using HttpClient client = ClientOver(server, TwoCatalogReplicas);

        using HttpResponseMessage response = await client.GetAsync(address);

        Assert.Equal(new Uri(address), server.Calls.Single());
    }

    [Fact]
    public async Task Every_HttpClient_from_the_factory_resolves_service_names_and_a_retry_reaches_the_other_replica()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(TwoCatalogReplicas);
        builder.Configuration["Resilience:Http:Retry:Delay"] = "00:00:00";
        builder.AddServiceDefaults();
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.ServiceUnavailable), ScriptedHandler.Status(HttpStatusCode.OK));
        builder.Services.ConfigureHttpClientDefaults(http => http.ConfigurePrimaryHttpMessageHandler(() => server));
        using IHost host = builder.Build();
        HttpClient client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

        using HttpResponseMessage response = await client.GetAsync("http://catalog-api/api/items");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["http://127.0.0.1:5101/api/items", "http://127.0.0.1:5102/api/items"], server.Calls.Select(u => u.AbsoluteUri));
    }

    [Fact]
    public async Task A_replica_added_to_configuration_is_used_without_a_restart()
    {
        var configuration = new ConfigurationManager();
        configuration["services:order-api:http:0"] = "http://127.0.0.1:6001";
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.OK));
        using var client = new HttpClient(new ServiceDiscoveryHandler(new ServiceEndpointResolver(configuration)) { InnerHandler = server });
        using (await client.GetAsync("http://order-api/")) { }

        configuration["services:order-api:http:1"] = "http://127.0.0.1:6002";
        ((IConfigurationRoot)configuration).Reload();
        using (await client.GetAsync("http://order-api/")) { }
        using (await client.GetAsync("http://order-api/")) { }

        Assert.Contains(server.Calls, u => u.Port == 6002);
    }
}
