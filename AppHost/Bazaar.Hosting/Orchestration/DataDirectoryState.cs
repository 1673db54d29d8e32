using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;

namespace Bazaar.Hosting;

/// <summary>
/// What a data directory remembers between runs: generated credentials (secrets.json, readable by the owner only)
/// and the ports last used (ports.json), so that connection strings stay the same from one start to the next.
/// </summary>
internal sealed class DataDirectoryState
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
    private readonly string _secretsFile;
    private readonly string _portsFile;
    private readonly Dictionary<string, ServerCredentials> _secrets;
    private readonly Dictionary<string, int> _ports;
    private readonly HashSet<int> _taken = [];
    private readonly Lock _lock = new();

    public DataDirectoryState(string dataDirectory)
    {
        _secretsFile = Path.Combine(dataDirectory, "secrets.json");
        _portsFile = Path.Combine(dataDirectory, "ports.json");
        _secrets = Read<Dictionary<string, ServerCredentials>>(_secretsFile) ?? [];
        _ports = Read<Dictionary<string, int>>(_portsFile) ?? [];
    }

    public ServerCredentials CredentialsFor(string resourceName, string userName)
    {
        lock (_lock)
        {
            if (!_secrets.TryGetValue(resourceName, out ServerCredentials? credentials))
            {
                credentials = new ServerCredentials(userName, GeneratePassword());
                _secrets[resourceName] = credentials;
                Write(_secretsFile, _secrets);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(_secretsFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
            }

            return credentials;
        }
    }

    /// <summary>
    /// A port for <paramref name="key"/>: the preferred one if free, else the one remembered from the last run if free,
    /// else any free port. Never the same port twice in one run.
    /// </summary>
    public int AllocatePort(string key, int? preferred)
    {
        lock (_lock)
        {
            int port = preferred is int p && IsFree(p) ? p
                : _ports.TryGetValue(key, out int remembered) && IsFree(remembered) ? remembered
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

    /// <summary>The port was free when allocated but is taken now (another program grabbed it first): take another one.</summary>
    public int ReallocatePort(string key, int busyPort)
    {
        lock (_lock)
        {
            _taken.Remove(busyPort);
            PortClaims.Release(busyPort);
            return AllocatePort(key, preferred: null);
        }
    }

    /// <summary>Gives the ports back to other engines on this machine.</summary>
    public void ReleasePorts()
    {
        lock (_lock)
        {
            foreach (int port in _taken)
            {
                PortClaims.Release(port);
            }

            _taken.Clear();
        }
    }

    private bool IsFree(int port) => !_taken.Contains(port) && PortProbe.IsFree(port) && PortClaims.TryClaim(port);

    private int FreePort()
    {
        while (true)
        {
            int port = PortProbe.FreePort();
            if (!_taken.Contains(port) && PortClaims.TryClaim(port))
            {
                return port;
            }
        }
    }

    // Letters and digits only: the password goes into URIs and connection strings unescaped.
    private static string GeneratePassword() =>
        RandomNumberGenerator.GetString("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", 24);

    private static T? Read<T>(string file)
        where T : class
    {
        if (!File.Exists(file))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(file));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void Write<T>(string file, T value)
    {
        string temporary = file + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(value, JsonOptions));
        File.Move(temporary, file, overwrite: true);
    }
}

/// <summary>Whether a loopback port can be bound, and which one the system would hand out.</summary>
public static class PortProbe
{
    public static bool IsFree(int port)
    {
        try
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            // As the servers themselves do: a port whose old connections linger in TIME_WAIT is still usable.
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static int FreePort()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }
}

/// <summary>
/// Ports this process has handed out, claimed machine-wide with a lock file under /tmp/bazaar-ports. A server can take
/// many seconds to bind its port; without the claim, a second engine (another AppHost, another test process) would see
/// the port free in the meantime and hand it out again. The lock goes when the process does, however it ends.
/// </summary>
internal static class PortClaims
{
    private static readonly string ClaimDirectory = Path.Combine(Path.GetTempPath(), "bazaar-ports");
    private static readonly Dictionary<int, FileStream> Claims = [];

    public static bool TryClaim(int port)
    {
        lock (Claims)
        {
            if (Claims.ContainsKey(port))
            {
                return false;
            }

            try
            {
                Directory.CreateDirectory(ClaimDirectory);
                // FileShare.None takes an exclusive advisory lock (flock) on Unix: another process cannot open it likewise.
                var claim = new FileStream(Path.Combine(ClaimDirectory, $"{port}.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                Claims[port] = claim;
                return true;
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                // A lock file made by another user: that user's engine may hold the port.
                return false;
            }
        }
    }

    public static void Release(int port)
    {
        lock (Claims)
        {
            if (Claims.Remove(port, out FileStream? claim))
            {
                claim.Dispose();
            }
        }
    }
}
