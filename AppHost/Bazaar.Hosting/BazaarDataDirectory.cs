using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;

namespace Bazaar.Hosting;

/// <summary>
/// What a data directory keeps between runs of the AppHost: generated secrets (<c>secrets.json</c>, readable by the owner
/// only) and the ports last used (<c>ports.json</c>), so that connection strings stay the same from one start to the next,
/// and each server's data folder.
/// </summary>
public sealed class BazaarDataDirectory
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
    private readonly string _secretsFile;
    private readonly string _portsFile;
    private readonly Dictionary<string, string> _secrets;
    private readonly Dictionary<string, int> _ports;
    private readonly HashSet<int> _taken = [];
    private readonly Lock _lock = new();

    public BazaarDataDirectory(string path, bool useFreePorts = false)
    {
        Path = System.IO.Path.GetFullPath(path);
        UseFreePorts = useFreePorts;
        Directory.CreateDirectory(Path);
        _secretsFile = System.IO.Path.Combine(Path, "secrets.json");
        _portsFile = System.IO.Path.Combine(Path, "ports.json");
        _secrets = Read<Dictionary<string, string>>(_secretsFile) ?? [];
        _ports = Read<Dictionary<string, int>>(_portsFile) ?? [];
    }

    public string Path { get; }

    /// <summary>Tests: take any free port instead of the preferred ones, so a test runs beside a developer's AppHost.</summary>
    public bool UseFreePorts { get; }

    /// <summary>Files that must not be shared beyond the data directory (the admin password, for one).</summary>
    public string SecretsDirectory => System.IO.Path.Combine(Path, "secrets");

    /// <summary>The folder a resource keeps its data in, created on first use.</summary>
    public string ResourceDirectory(string resourceName) =>
        Directory.CreateDirectory(System.IO.Path.Combine(Path, resourceName)).FullName;

    /// <summary>A secret generated once for this data directory: 24 random bytes in hex, nothing a URL or connection string must escape.</summary>
    public string Secret(string name)
    {
        lock (_lock)
        {
            if (!_secrets.TryGetValue(name, out string? secret))
            {
                secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
                _secrets[name] = secret;
                WriteOwnerOnly(_secretsFile, JsonSerializer.Serialize(_secrets, JsonOptions));
            }

            return secret;
        }
    }

    /// <summary>
    /// A port for <paramref name="key"/>: the preferred one if free, else the one remembered from the last run if free, else
    /// any free port. Never the same port twice in one run.
    /// </summary>
    public int Port(string key, int? preferred)
    {
        lock (_lock)
        {
            int port = !UseFreePorts && preferred is int p && IsFree(p) ? p
                : !UseFreePorts && _ports.TryGetValue(key, out int remembered) && IsFree(remembered) ? remembered
                : FreePort();
            _taken.Add(port);
            if (!_ports.TryGetValue(key, out int previous) || previous != port)
            {
                _ports[key] = port;
                Write(_portsFile, _ports);
            }

            return port;
        }
    }

    private bool IsFree(int port)
    {
        if (_taken.Contains(port))
        {
            return false;
        }

        try
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private int FreePort()
    {
        while (true)
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            if (!_taken.Contains(port))
            {
                return port;
            }
        }
    }

    /// <summary>Writes a file that holds a secret: readable and writable by its owner only.</summary>
    public static void WriteOwnerOnly(string file, string contents)
    {
        File.WriteAllText(file, contents + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static T? Read<T>(string file) =>
        File.Exists(file) ? JsonSerializer.Deserialize<T>(File.ReadAllText(file)) : default;

    private static void Write<T>(string file, T value) =>
        File.WriteAllText(file, JsonSerializer.Serialize(value, JsonOptions));
}
