using Bazaar.Hosting;

namespace Bazaar.UnitTests.Hosting;

/// <summary>What a data directory remembers: credentials and secrets generated once, ports reused while free.</summary>
public sealed class DataDirectoryTests : IDisposable
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "bazaar-unit-" + Guid.NewGuid().ToString("N")[..8]);

    private async Task<(string Redis, string Secret, string SecretAgain)> PrepareAsync()
    {
        IDistributedApplicationBuilder builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions
        {
            DataDirectory = _dataDirectory,
            DashboardUrl = null,
            ConsoleLogging = false,
            UseFreePorts = true,
        });
        builder.AddRedis("cache");
        GeneratedSecret secret = builder.AddSecret("client-secret");
        IResourceBuilder<ExecutableResource> first = builder.AddExecutable("first", "true", ".").WithEnvironment("Client__Secret", secret);
        await using DistributedApplication app = builder.Build();
        string redis = (await app.GetConnectionStringAsync("cache"))!;
        IReadOnlyDictionary<string, string> environment = ProcessEnvironment.For(first.Resource, 0, builder.Options);
        return (redis, secret.Value, environment["Client__Secret"]);
    }

    [Fact]
    public async Task Credentials_and_secrets_are_generated_once_and_reused_by_the_next_start()
    {
        (string redis, string secret, string given) = await PrepareAsync();
        (string redisAgain, string secretAgain, _) = await PrepareAsync();

        Assert.Equal(secret, given);
        Assert.True(secret.Length >= 16);
        Assert.Equal(secret, secretAgain);
        // Same password; the port too, since nothing took it in between.
        Assert.Equal(redis, redisAgain);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_secrets_file_is_readable_by_its_owner_only()
    {
        await PrepareAsync();

        UnixFileMode mode = File.GetUnixFileMode(Path.Combine(_dataDirectory, "secrets.json"));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }
}
