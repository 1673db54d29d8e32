using System.Text;

namespace Bazaar.Hosting.Processes;

/// <summary>What to run: the program, its arguments, its environment and where.</summary>
public sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    public string? WorkingDirectory { get; init; }

    /// <summary>The nice value to start with (0..19); above 0 the program is started through nice(1).</summary>
    public int Niceness { get; init; }

    /// <summary>The command line as a person would type it in a POSIX shell.</summary>
    public string CommandLine => string.Join(' ', NicePrefix.Concat([FileName]).Concat(Arguments).Select(Quote));

    // nice(1) sets the value before it executes the program, so every thread the program ever makes inherits it;
    // renicing a running .NET process would reach only its main thread (Linux priorities are per thread).
    internal IEnumerable<string> NicePrefix => Niceness == 0 ? [] : ["nice", "-n", Niceness.ToString(System.Globalization.CultureInfo.InvariantCulture)];

    public static string Quote(string argument)
    {
        if (argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || "-_./:=@,+%".Contains(c)))
        {
            return argument;
        }

        var quoted = new StringBuilder("'");
        quoted.Append(argument.Replace("'", "'\\''", StringComparison.Ordinal));
        return quoted.Append('\'').ToString();
    }
}
