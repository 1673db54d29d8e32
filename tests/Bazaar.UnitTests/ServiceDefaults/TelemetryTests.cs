using System.Collections.Concurrent;
using System.Diagnostics;
using Bazaar.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;

namespace Bazaar.UnitTests.ServiceDefaults;

public sealed class TelemetryTests
{
    [Fact]
    public void Resource_attributes_are_read_as_the_OpenTelemetry_specification_writes_them()
    {
        Dictionary<string, object> attributes = TelemetrySetup.ParseResourceAttributes("service.instance.id=catalog-api-1, team=shop%20floor,broken");

        Assert.Equal("catalog-api-1", attributes["service.instance.id"]);
        Assert.Equal("shop floor", attributes["team"]);
        Assert.Equal(2, attributes.Count);
    }

    [Fact]
    public void The_resource_names_the_service_and_its_replica_from_the_OTEL_variables()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OTEL_SERVICE_NAME"] = "catalog-api",
            ["OTEL_RESOURCE_ATTRIBUTES"] = "service.instance.id=catalog-api-2",
        }).Build();
        var environment = new HostApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" }).Environment;

        Resource resource = TelemetrySetup.CreateResource(configuration, environment).Build();
        var attributes = resource.Attributes.ToDictionary(a => a.Key, a => a.Value);

        Assert.Equal("catalog-api", attributes["service.name"]);
        Assert.Equal("catalog-api-2", attributes["service.instance.id"]);
    }

    [Theory]
    [InlineData("http://127.0.0.1:18889", "/v1/traces", "http://127.0.0.1:18889/v1/traces")]
    [InlineData("http://127.0.0.1:18889/", "/v1/logs", "http://127.0.0.1:18889/v1/logs")]
    [InlineData("http://collector:4318/otlp", "/v1/metrics", "http://collector:4318/otlp/v1/metrics")]
    public void The_http_protobuf_exporter_gets_the_signal_path_appended(string baseEndpoint, string signal, string expected)
    {
        var options = new OtlpExporterOptions();
        IConfiguration configuration = new ConfigurationBuilder().Build();

        TelemetrySetup.ConfigureExporter(options, configuration, new Uri(baseEndpoint), signal);

        Assert.Equal(OtlpExportProtocol.HttpProtobuf, options.Protocol);
        Assert.Equal(expected, options.Endpoint.AbsoluteUri);
    }

    [Fact]
    public async Task With_an_OTLP_endpoint_set_traces_and_logs_are_exported_over_http_protobuf()
    {
        var received = new ConcurrentQueue<(string Path, string? ContentType, long Length)>();
        WebApplicationBuilder collectorBuilder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        collectorBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        collectorBuilder.Logging.ClearProviders();
        await using WebApplication collector = collectorBuilder.Build();
        collector.MapPost("/v1/{signal}", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            received.Enqueue((request.Path, request.ContentType, body.Length));
            return TypedResults.Ok();
        });
        await collector.StartAsync();
        string collectorAddress = collector.Urls.Single();

        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = collectorAddress;
        builder.Configuration["OTEL_SERVICE_NAME"] = "telemetry-test";
        builder.AddServiceDefaults();
        using (IHost host = builder.Build())
        {
            await host.StartAsync();
            using var source = new ActivitySource("Bazaar.UnitTests.Telemetry");
            using (source.StartActivity("placing an order"))
            {
                host.Services.GetRequiredService<ILogger<TelemetryTests>>().LogWarning("An order was placed");
            }

            await host.StopAsync();
        }

        await Eventually.HoldsAsync(
            () => received.Any(r => r.Path == "/v1/traces") && received.Any(r => r.Path == "/v1/logs"),
            "the collector has received traces and logs");
        Assert.All(received, r => Assert.Equal("application/x-protobuf", r.ContentType));
        Assert.All(received, r => Assert.True(r.Length > 0));
    }
}
