using System.Globalization;

namespace Bazaar.EndToEndTests;

/// <summary>One process as /proc showed it; <see cref="StartTime"/> (clock ticks after boot) tells it apart from a later process given the same pid.</summary>
public sealed record ProcessEntry(int Pid, int ParentPid, long StartTime, char State, string Command)
{
    public override string ToString() => $"{Pid} {Command}";
}

/// <summary>The machine's processes from /proc (Linux): who started whom, and which are still alive.</summary>
public static class ProcessTable
{
    public static IReadOnlyList<ProcessEntry> All()
    {
        var list = new List<ProcessEntry>();
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && Read(pid) is { } entry)
            {
                list.Add(entry);
            }
        }

        return list;
    }

    /// <summary>The process with this pid now, or null when there is none (or it could not be read).</summary>
    public static ProcessEntry? Read(int pid)
    {
        try
        {
            // "pid (comm) state ppid ... starttime": comm may hold spaces and parentheses, so split after the last ')'.
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            string[] fields = stat[(close + 2)..].Split(' ');
            string command = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
            if (command.Length == 0)
            {
                command = stat[(stat.IndexOf('(') + 1)..close];
            }

            return new ProcessEntry(
                pid,
                int.Parse(fields[1], CultureInfo.InvariantCulture),
                long.Parse(fields[19], CultureInfo.InvariantCulture),
                fields[0][0],
                command);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Whether this very process (same pid and start time) still runs; a zombie has ended.</summary>
    public static bool IsAlive(ProcessEntry process) =>
        Read(process.Pid) is { } now && now.StartTime == process.StartTime && now.State != 'Z';

    /// <summary>The roots and every process started under them, from one listing.</summary>
    public static IEnumerable<ProcessEntry> WithDescendants(IReadOnlyList<ProcessEntry> all, IEnumerable<int> roots)
    {
        ILookup<int, ProcessEntry> children = all.ToLookup(p => p.ParentPid);
        Dictionary<int, ProcessEntry> byPid = all.ToDictionary(p => p.Pid);
        var seen = new HashSet<int>();
        var pending = new Stack<int>(roots);
        while (pending.TryPop(out int pid))
        {
            if (!seen.Add(pid) || !byPid.TryGetValue(pid, out ProcessEntry? process))
            {
                continue;
            }

            yield return process;
            foreach (ProcessEntry child in children[pid])
            {
                pending.Push(child.Pid);
            }
        }
    }
}
