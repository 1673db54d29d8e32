using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Bazaar.Hosting.Processes;

/// <summary>
/// A child process running in a session (and process group) of its own, so that stopping it also stops
/// whatever it forked (beam.smp under rabbitmq-server, for instance). Output arrives line by line.
/// </summary>
public sealed class ManagedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string? _pidFile;
    private readonly Task<int> _exited;

    private ManagedProcess(Process process, string? pidFile)
    {
        _process = process;
        _pidFile = pidFile;
        Pid = process.Id;
        _exited = WaitForExitCoreAsync();
    }

    public int Pid { get; }

    /// <summary>Completes with the exit code once the process has exited and its output is drained.</summary>
    public Task<int> Exited => _exited;

    public bool HasExited => _exited.IsCompleted;

    /// <summary>Starts <paramref name="spec"/>; throws <see cref="FileNotFoundException"/> when the program is missing.</summary>
    public static ManagedProcess Start(ProcessSpec spec, Action<string, bool> onOutput, string? pidFile = null)
    {
        string program = ExecutableLocator.Find(spec.FileName)
            ?? throw new FileNotFoundException($"The program '{spec.FileName}' was not found.", spec.FileName);
        string setsid = ExecutableLocator.Find("setsid")
            ?? throw new FileNotFoundException("The program 'setsid' (package util-linux) was not found.", "setsid");

        var startInfo = new ProcessStartInfo(setsid)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = spec.WorkingDirectory ?? Environment.CurrentDirectory,
        };
        if (spec.Niceness != 0)
        {
            startInfo.ArgumentList.Add(ExecutableLocator.Find("nice")
                ?? throw new FileNotFoundException("The program 'nice' (package coreutils) was not found.", "nice"));
            startInfo.ArgumentList.Add("-n");
            startInfo.ArgumentList.Add(spec.Niceness.ToString(CultureInfo.InvariantCulture));
        }

        startInfo.ArgumentList.Add(program);
        foreach (string argument in spec.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in spec.Environment)
        {
            startInfo.Environment[key] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                onOutput(e.Data, false);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                onOutput(e.Data, true);
            }
        };

        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // No child reads its standard input; closing it keeps "press a key" prompts from hanging.
        process.StandardInput.Close();

        if (pidFile is not null)
        {
            WritePidFile(pidFile, process.Id);
        }

        return new ManagedProcess(process, pidFile);
    }

    /// <summary>
    /// Asks the whole process group to stop (SIGTERM, or SIGINT), waits up to <paramref name="gracePeriod"/>,
    /// then kills whatever is left of the group.
    /// </summary>
    public async Task StopAsync(TimeSpan gracePeriod, int signal = NativeMethods.SigTerm, CancellationToken cancellationToken = default)
    {
        if (!HasExited)
        {
            NativeMethods.SignalGroup(Pid, signal);
            NativeMethods.Signal(Pid, signal);
            using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            grace.CancelAfter(gracePeriod);
            try
            {
                await _exited.WaitAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The grace period is over.
            }
        }

        await KillGroupAsync(Pid, gracePeriod, cancellationToken).ConfigureAwait(false);
        await _exited.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Kills the process and its group at once (a crash, as tests provoke it).</summary>
    public void Kill()
    {
        NativeMethods.SignalGroup(Pid, NativeMethods.SigKill);
        NativeMethods.Signal(Pid, NativeMethods.SigKill);
    }

    /// <summary>Ends every live member of a process group: SIGTERM first, SIGKILL after the grace period.</summary>
    public static async Task KillGroupAsync(int processGroupId, TimeSpan gracePeriod, CancellationToken cancellationToken)
    {
        if (ProcessTable.GroupMembers(processGroupId).Count == 0)
        {
            return;
        }

        NativeMethods.SignalGroup(processGroupId, NativeMethods.SigTerm);
        DateTime deadline = DateTime.UtcNow + gracePeriod;
        while (ProcessTable.GroupMembers(processGroupId).Count > 0)
        {
            if (DateTime.UtcNow >= deadline)
            {
                NativeMethods.SignalGroup(processGroupId, NativeMethods.SigKill);
                foreach (ProcessTable.Entry member in ProcessTable.GroupMembers(processGroupId))
                {
                    NativeMethods.Signal(member.Pid, NativeMethods.SigKill);
                }
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ends the process group a pid file names, if it still runs: what an AppHost killed with SIGKILL left behind.
    /// Returns true when something was ended.
    /// </summary>
    public static async Task<bool> EndLeftoverAsync(string pidFile, TimeSpan gracePeriod, CancellationToken cancellationToken)
    {
        if (!File.Exists(pidFile))
        {
            return false;
        }

        string[] parts = (await File.ReadAllTextAsync(pidFile, cancellationToken).ConfigureAwait(false))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        File.Delete(pidFile);
        if (parts.Length < 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long startTime))
        {
            return false;
        }

        ProcessTable.Entry? leader = ProcessTable.TryRead(pid);
        // A different start time means the pid was reused by an unrelated process: leave it alone.
        bool leaderIsOurs = leader is not null && leader.StartTime == startTime;
        bool orphansRemain = leader is null && ProcessTable.GroupMembers(pid).Count > 0;
        if (!leaderIsOurs && !orphansRemain)
        {
            return false;
        }

        await KillGroupAsync(pid, gracePeriod, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static void WritePidFile(string pidFile, int pid)
    {
        long startTime = ProcessTable.TryRead(pid)?.StartTime ?? 0;
        Directory.CreateDirectory(Path.GetDirectoryName(pidFile)!);
        File.WriteAllText(pidFile, string.Create(CultureInfo.InvariantCulture, $"{pid} {startTime}\n"));
    }

    private async Task<int> WaitForExitCoreAsync()
    {
        await _process.WaitForExitAsync().ConfigureAwait(false);
        if (_pidFile is not null && ProcessTable.GroupMembers(Pid).Count == 0)
        {
            try
            {
                File.Delete(_pidFile);
            }
            catch (IOException)
            {
                // A pid file that cannot be removed is checked (and ignored) on the next start.
            }
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            await StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        _process.Dispose();
    }
}
