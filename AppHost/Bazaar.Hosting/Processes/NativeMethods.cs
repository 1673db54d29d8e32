using System.Runtime.InteropServices;

namespace Bazaar.Hosting.Processes;

internal static class NativeMethods
{
    public const int SigKill = 9;
    public const int SigTerm = 15;
    public const int SigInt = 2;

    // .NET offers no way to send SIGTERM, and every child runs in a session of its own so that a whole
    // process group (the server and whatever it forked) can be signalled at once.
    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    public static bool SignalGroup(int processGroupId, int signal) => Kill(-processGroupId, signal) == 0;

    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    /// <summary>True while at least one process of the group exists.</summary>
    public static bool GroupExists(int processGroupId) => Kill(-processGroupId, 0) == 0;

    public static bool ProcessExists(int pid) => Kill(pid, 0) == 0;
}
