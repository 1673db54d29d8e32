using System.Diagnostics;
using System.Text.Json;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Bazaar.IntegrationTests.Dashboard;

public sealed class TelemetryPersistenceTests
{
    [Fact]
    public async Task Traces_received_before_a_restart_are_still_listed_after_it()
    {
        var host = await TelemetryHost.StartAsync();
        var dataDirectory = host.DataDirectory;
        try
        {
            var sourceName = "Bazaar.Tests.Restart." + Guid.NewGuid().ToString("N");
            using var source = new ActivitySource(sourceName);
            string traceId;
            using (var tracing = Sdk.CreateTracerProviderBuilder()
                .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("restart-tests"))
                .AddSource(sourceName)
                .AddOtlpExporter(o =>
                {
                    o.Protocol = OtlpExportProtocol.HttpProtobuf;
                    o.Endpoint = new Uri(host.OtlpEndpoint, "v1/traces");
                })
                .Build())
            {
                using (var activity = source.StartActivity("yesterday's request")!) traceId = activity.TraceId.ToHexString();
                Assert.True(tracing.ForceFlush(10_000));
            }
            await host.PollAsync<JsonElement>($"/api/traces/{traceId}", t => t.ValueKind == JsonValueKind.Object);

            await host.DisposeAsync();
            host = await TelemetryHost.StartAsync(dataDirectory);

            var traces = await host.PollAsync<JsonElement>("/api/traces?resource=restart-tests", t => t.GetArrayLength() == 1);
            Assert.Equal(traceId, traces[0].GetProperty("traceId").GetString());
            Assert.Equal("yesterday's request", traces[0].GetProperty("rootName").GetString());
        }
        finally
        {
            await host.DisposeAsync();
            Directory.Delete(dataDirectory, recursive: true);
        }
    }
}
