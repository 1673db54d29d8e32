using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Bazaar.Hosting;

public sealed record LogLine(long LineNumber, DateTimeOffset Timestamp, string Content, bool IsErrorMessage);

/// <summary>
/// The console output of every resource and replica, kept in a bounded buffer per name. A replica's lines are
/// also filed under its resource's name.
/// </summary>
public sealed class ResourceLoggerService(TimeProvider timeProvider)
{
    public const int MaxLinesPerResource = 5000;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Log> _logs = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyList<LogLine> GetLogs(string name)
    {
        lock (_lock)
        {
            return _logs.TryGetValue(name, out Log? log) ? log.Lines.ToList() : [];
        }
    }

    /// <summary>
    /// The lines that explain a failure: from the last unhandled exception's first line when there is one among the
    /// recent lines (a stack trace alone does not say what went wrong), else the last <paramref name="count"/> lines.
    /// </summary>
    public IReadOnlyList<string> FailureTail(string name, int count)
    {
        IReadOnlyList<string> recent = Tail(name, count * 4);
        int exception = -1;
        for (int i = recent.Count - 1; i >= 0; i--)
        {
            if (recent[i].Contains("Unhandled exception", StringComparison.OrdinalIgnoreCase)
                || (recent[i].Contains("Exception: ", StringComparison.Ordinal) && !recent[i].TrimStart().StartsWith("at ", StringComparison.Ordinal)))
            {
                exception = i;
                if (recent[i].Contains("Unhandled exception", StringComparison.OrdinalIgnoreCase))
                {
                    break;
                }
            }
        }

        return exception < 0 ? recent.Skip(Math.Max(0, recent.Count - count)).ToList() : recent.Skip(exception).Take(count).ToList();
    }

    /// <summary>The last <paramref name="count"/> lines, for error messages.</summary>
    public IReadOnlyList<string> Tail(string name, int count)
    {
        lock (_lock)
        {
            return _logs.TryGetValue(name, out Log? log) ? log.Lines.Skip(Math.Max(0, log.Lines.Count - count)).Select(l => l.Content).ToList() : [];
        }
    }

    /// <summary>The lines so far, then every new one, until cancelled.</summary>
    public async IAsyncEnumerable<LogLine> WatchAsync(string name, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<LogLine>(new UnboundedChannelOptions { SingleReader = true });
        Log log;
        lock (_lock)
        {
            log = GetOrCreate(name);
            foreach (LogLine line in log.Lines)
            {
                channel.Writer.TryWrite(line);
            }

            log.Watchers.Add(channel);
        }

        try
        {
            await foreach (LogLine line in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return line;
            }
        }
        finally
        {
            lock (_lock)
            {
                log.Watchers.Remove(channel);
            }
        }
    }

    internal void Write(string name, string? resourceName, string content, bool isError)
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        lock (_lock)
        {
            Append(GetOrCreate(name), now, content, isError);
            if (resourceName is not null && !string.Equals(resourceName, name, StringComparison.OrdinalIgnoreCase))
            {
                Append(GetOrCreate(resourceName), now, $"[{name}] {content}", isError);
            }
        }
    }

    private static void Append(Log log, DateTimeOffset now, string content, bool isError)
    {
        var line = new LogLine(++log.LastLineNumber, now, content, isError);
        log.Lines.Enqueue(line);
        if (log.Lines.Count > MaxLinesPerResource)
        {
            log.Lines.Dequeue();
        }

        foreach (Channel<LogLine> watcher in log.Watchers)
        {
            watcher.Writer.TryWrite(line);
        }
    }

    private Log GetOrCreate(string name)
    {
        if (!_logs.TryGetValue(name, out Log? log))
        {
            log = new Log();
            _logs[name] = log;
        }

        return log;
    }

    private sealed class Log
    {
        public Queue<LogLine> Lines { get; } = new();

        public List<Channel<LogLine>> Watchers { get; } = [];

        public long LastLineNumber { get; set; }
    }
}
