using System.Security.Cryptography;
using Bazaar.Auth.Api.Accounts;
using Bazaar.Auth.Api.Data;
using Bazaar.ServiceDefaults.Authentication;
using Microsoft.Extensions.Options;

namespace Bazaar.Auth.Api;

/// <summary>
/// Creates <c>admin@bazaar.local</c> on first start. Its password is <c>Auth:AdminPassword</c> when set, otherwise
/// generated once into <c>{Auth:SecretsDirectory}/auth-admin-password</c> (mode 600), where the AppHost and the
/// README point. The password itself is never logged.
/// </summary>
internal sealed partial class AdminSeeder(
    UserStore users,
    PasswordVerifier passwords,
    IOptions<AuthApiOptions> options,
    IHostEnvironment environment,
    TimeProvider time,
    ILogger<AdminSeeder> logger)
{
    public const string AdminEmail = "admin@bazaar.local";
    public const string PasswordFileName = "auth-admin-password";

    public async Task SeedAsync(CancellationToken ct)
    {
        if (await users.FindByNormalizedEmailAsync(AdminEmail, ct) is not null)
        {
            return;
        }

        string? configured = options.Value.AdminPassword;
        string password;
        if (!string.IsNullOrEmpty(configured))
        {
            password = configured;
            LogSeededWithConfiguredPassword(logger, AdminEmail);
        }
        else
        {
            string path = Path.Combine(SecretsDirectory(), PasswordFileName);
            password = await ReadOrCreatePasswordFileAsync(path, ct);
            LogSeededWithGeneratedPassword(logger, AdminEmail, path);
        }

        var admin = new UserRow(
            Id: Guid.NewGuid().ToString(),
            Email: AdminEmail,
            NormalizedEmail: AdminEmail,
            DisplayName: "Administrator",
            PasswordHash: "",
            Roles: AuthenticationConventions.AdminRole,
            SecurityStamp: Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            LockoutEnd: null,
            CreatedAt: time.GetUtcNow().UtcDateTime);
        // A replica starting at the same moment may win the insert; both used the same password source.
        await users.TryCreateAsync(admin with { PasswordHash = passwords.Hash(admin, password) }, ct);
    }

    private string SecretsDirectory() =>
        string.IsNullOrWhiteSpace(options.Value.SecretsDirectory)
            ? Path.Combine(environment.ContentRootPath, ".bazaar", "secrets")
            : options.Value.SecretsDirectory;

    /// <summary>CreateNew makes the file the single source even when two replicas seed at once.</summary>
    private static async Task<string> ReadOrCreatePasswordFileAsync(string path, CancellationToken ct)
    {
        if (File.Exists(path) && (await File.ReadAllTextAsync(path, ct)).Trim() is { Length: > 0 } existing)
        {
            return existing;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string generated = Base64UrlEncodeNoSymbols(RandomNumberGenerator.GetBytes(18));
        try
        {
            var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            await using (var stream = new FileStream(path, fileOptions))
            await using (var writer = new StreamWriter(stream))
            {
                await writer.WriteAsync(generated);
            }

            return generated;
        }
        catch (IOException) when (File.Exists(path))
        {
            return (await File.ReadAllTextAsync(path, ct)).Trim();
        }
    }

    private static string Base64UrlEncodeNoSymbols(byte[] bytes) =>
        Convert.ToBase64String(bytes).Replace('+', 'x').Replace('/', 'y').TrimEnd('=');

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded {Email} with the password from Auth:AdminPassword")]
    private static partial void LogSeededWithConfiguredPassword(ILogger logger, string email);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Seeded {Email}; its generated password is in the file {PasswordFile}")]
    private static partial void LogSeededWithGeneratedPassword(ILogger logger, string email, string passwordFile);
}
