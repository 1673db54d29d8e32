using System.Globalization;

namespace Bazaar.Hosting.Processes;

/// <summary>Reads /proc: which processes live, in which process group, since when.</summary>
public static class ProcessTable
{
    public sealed record Entry(int Pid, int ParentPid, int ProcessGroupId, char State, long StartTime, string Command);

    public static IReadOnlyList<Entry> Snapshot()
    {
        var entries = new List<Entry>();
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && TryRead(pid) is { } entry)
            {
                entries.Add(entry);
            }
        }

        return entries;
    }

    public static Entry? TryRead(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // The command sits in parentheses and may itself contain spaces or parentheses.
        int open = stat.IndexOf('(', StringComparison.Ordinal);
        int close = stat.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return null;
        }

        string command = stat[(open + 1)..close];
        string[] fields = stat[(close + 2)..].Split(' ');
        // fields[0] is field 3 of proc(5): state, ppid, pgrp, ... starttime is field 22.
        return new Entry(
            pid,
            int.Parse(fields[1], CultureInfo.InvariantCulture),
            int.Parse(fields[2], CultureInfo.InvariantCulture),
            fields[0][0],
            long.Parse(fields[19], CultureInfo.InvariantCulture),
            command);
    }

    /// <summary>Live (not zombie) members of a process group.</summary>
    public static IReadOnlyList<Entry> GroupMembers(int processGroupId) =>
        Snapshot().Where(e => e.ProcessGroupId == processGroupId && e.State != 'Z' && e.State != 'X').ToList();

    public static bool IsAlive(int pid) => TryRead(pid) is { State: not 'Z' and not 'X' };
}
