using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace Bazaar.Data.Migrations;

/// <summary>One versioned SQL file. The version is the file name's leading number (<c>0003_add_stock.sql</c> is 3).</summary>
public sealed record Migration(int Version, string Name, string Sql)
{
    /// <summary>SHA-256 of the script with line endings normalised, so a checkout on another OS does not count as a change.</summary>
    /// <remarks>Computed from <see cref="Sql"/> each time, so a copy made with <c>with</c> cannot carry a stale one.</remarks>
    public string Checksum => ComputeChecksum(Sql);

    /// <summary>
    /// The <c>*.sql</c> files embedded from a project's <c>Migrations/</c> folder, ordered by version.
    /// Two files with the same version, or a file without one, is a build mistake and throws.
    /// </summary>
    public static IReadOnlyList<Migration> FromAssembly(Assembly assembly, string folder = "Migrations")
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var marker = "." + folder + ".";
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var index = resource.LastIndexOf(marker, StringComparison.Ordinal);
            if (index < 0 || !resource.EndsWith(".sql", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var fileName = resource[(index + marker.Length)..];
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            migrations.Add(new Migration(ParseVersion(fileName), fileName, reader.ReadToEnd()));
        }

        return Order(migrations);
    }

    internal static IReadOnlyList<Migration> Order(IEnumerable<Migration> migrations)
    {
        var ordered = migrations.OrderBy(m => m.Version).ToList();
        var clash = ordered.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
        {
            throw new InvalidOperationException(
                $"Migrations {string.Join(" and ", clash.Select(m => m.Name))} share version {clash.Key}; give each file its own number.");
        }

        return ordered;
    }

    internal static int ParseVersion(string fileName)
    {
        var digits = fileName.TakeWhile(char.IsAsciiDigit).Count();
        if (digits == 0 || !int.TryParse(fileName.AsSpan(0, digits), out var version) || version <= 0)
        {
            throw new InvalidOperationException(
                $"Migration '{fileName}' has no version: name it with a leading number, for example 0001_create_products.sql.");
        }

        return version;
    }

    internal static string ComputeChecksum(string sql)
    {
        var normalised = sql.TrimStart('\uFEFF').Replace("\r\n", "\n", StringComparison.Ordinal);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalised)));
    }
}
