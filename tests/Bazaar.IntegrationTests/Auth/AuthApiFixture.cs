namespace Bazaar.IntegrationTests.Auth;

/// <summary>One auth-api (and one authdb) per test class; tests stay apart by unique emails.</summary>
public sealed class AuthApiFixture : IAsyncLifetime
{
    public AuthApiFactory Api { get; private set; } = null!;

    public async Task InitializeAsync() => Api = await AuthApiFactory.StartAsync();

    public async Task DisposeAsync() => await Api.DisposeAsync();
}
