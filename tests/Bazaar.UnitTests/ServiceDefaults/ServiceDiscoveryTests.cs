using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bazaar.UnitTests.ServiceDefaults;

/// <summary>
/// What Bazaar relies on from Microsoft.Extensions.ServiceDiscovery as AddServiceDefaults wires it: every HttpClient from
/// the factory resolves <c>http://catalog-api</c> from the keys Aspire hands a project (<c>services__catalog-api__http__0</c>).
/// </summary>
public sealed class ServiceDiscoveryTests
{
    private static readonly Dictionary<string, string?> TwoCatalogReplicas = new()
    {
        ["services:catalog-api:http:0"] = "http://127.0.0.1:5101",
        ["services:catalog-api:http:1"] = "http://127.0.0.1:5102",
    };

    private static IHost HostOver(ScriptedHandler server, Action<IConfigurationBuilder> configure)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        configure(builder.Configuration);
        builder.Configuration["Resilience:Http:Retry:Delay"] = "00:00:00";
        builder.AddServiceDefaults();
        builder.Services.ConfigureHttpClientDefaults(http => http.ConfigurePrimaryHttpMessageHandler(() => server));
        return builder.Build();
    }

    private static HttpClient Client(IHost host) => host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");

    [Fact]
    public async Task A_service_name_resolves_to_the_replica_Aspire_configured_through_its_environment_variable()
    {
        // Aspire writes services__{name}__{endpoint}__{index}; the environment provider reads "__" as the section separator.
        string prefix = $"BAZAAR_TEST_{Guid.NewGuid():N}_";
        Environment.SetEnvironmentVariable(prefix + "services__catalog-api__http__0", "http://127.0.0.1:5101");
        try
        {
            var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.OK));
            using IHost host = HostOver(server, configuration => configuration.AddEnvironmentVariables(prefix));

            using HttpResponseMessage response = await Client(host).GetAsync("http://catalog-api/api/items?page=2");

            Assert.Equal("http://127.0.0.1:5101/api/items?page=2", server.Calls.Single().AbsoluteUri);
        }
        finally
        {
            Environment.SetEnvironmentVariable(prefix + "services__catalog-api__http__0", null);
        }
    }

    [Fact]
    public async Task Requests_to_a_service_name_take_its_replicas_in_turn()
    {
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.OK));
        using IHost host = HostOver(server, configuration => configuration.AddInMemoryCollection(TwoCatalogReplicas));
        HttpClient client = Client(host);

        for (int i = 0; i < 4; i++)
        {
            using HttpResponseMessage response = await client.GetAsync("http://catalog-api/api/items");
        }

        Assert.Equal(2, server.Calls.Count(u => u.Port == 5101));
        Assert.Equal(2, server.Calls.Count(u => u.Port == 5102));
    }

    [Fact]
    public async Task A_retry_after_a_503_resolves_again_and_reaches_the_other_replica()
    {
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.ServiceUnavailable), ScriptedHandler.Status(HttpStatusCode.OK));
        using IHost host = HostOver(server, configuration => configuration.AddInMemoryCollection(TwoCatalogReplicas));

        using HttpResponseMessage response = await Client(host).GetAsync("http://catalog-api/api/items");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, server.Calls.Select(u => u.Port).Distinct().Count());
    }

    [Theory]
    [InlineData("http://localhost:8080/x")]
    [InlineData("http://127.0.0.1:8080/x")]
    public async Task Real_host_names_pass_through(string address)
    {
        var server = new ScriptedHandler(ScriptedHandler.Status(HttpStatusCode.OK));
        using IHost host = HostOver(server, configuration => configuration.AddInMemoryCollection(TwoCatalogReplicas));

        using HttpResponseMessage response = await Client(host).GetAsync(address);

        Assert.Equal(new Uri(address), server.Calls.Single());
    }
}
