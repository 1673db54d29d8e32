using System.Text;

namespace Bazaar.Hosting.Processes;

/// <summary>What to run: the program, its arguments, its environment and where.</summary>
public sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    public string? WorkingDirectory { get; init; }

    /// <summary>The command line as a person would type it in a POSIX shell.</summary>
    public string CommandLine => string.Join(' ', new[] { FileName }.Concat(Arguments).Select(Quote));

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
