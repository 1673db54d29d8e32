using System.Net;
using System.Net.Http.Json;
using Bazaar.Auth.Api;
using Bazaar.Auth.Api.Apis;

namespace Bazaar.IntegrationTests.Auth;

public sealed class AdminSeedTests
{
    [Fact]
    public async Task Without_a_configured_password_the_admin_password_is_generated_into_the_secrets_directory_and_never_logged()
    {
        await using AuthApiFactory api = await AuthApiFactory.StartAsync(s => s["Auth:AdminPassword"] = null);
        string file = Path.Combine(api.SecretsDirectory, AdminSeeder.PasswordFileName);

        string password = (await File.ReadAllTextAsync(file)).Trim();
        await api.LoginAsync(AuthApiFactory.AdminEmail, password);

        Assert.True(password.Length >= 20);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        Assert.Contains(api.Logs, line => line.Contains(file, StringComparison.Ordinal));
        Assert.DoesNotContain(api.Logs, line => line.Contains(password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_configured_admin_password_is_used_and_a_restart_keeps_the_one_admin()
    {
        await using AuthApiFactory first = await AuthApiFactory.StartAsync();
        await using AuthApiFactory restarted = await AuthApiFactory.StartAsync(databaseConnectionString: first.DatabaseConnectionString);
        using HttpClient admin = restarted.CreateClient((await restarted.LoginAsAdminAsync()).AccessToken);

        PaginatedItems<UserResponse> admins = (await admin.GetFromJsonAsync<PaginatedItems<UserResponse>>("/api/auth/users?q=admin@bazaar.local"))!;
        Assert.Equal(1, admins.Count);
        Assert.Equal(["admin"], admins.Data[0].Roles);
        Assert.Empty(Directory.Exists(first.SecretsDirectory) ? Directory.GetFiles(first.SecretsDirectory) : []);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/auth/me")).StatusCode);
    }
}
