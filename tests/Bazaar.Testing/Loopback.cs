using System.Net;
using System.Net.Sockets;

namespace Bazaar.Testing;

public static class Loopback
{
    /// <summary>A loopback port that nothing listens on right now (the system's pick for an ephemeral listener, closed again).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
