using System.Globalization;

namespace Bazaar.ServiceDefaults.Validation;

/// <summary>
/// Collects problems keyed by the parameter (or body member) they concern, for a 400 that names each one,
/// and parses raw query values so that "abc" for a number is such a problem rather than a bare 400.
/// Every service builds its 400s with it, so they all name problems the same way.
/// </summary>
public sealed class ValidationErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public void Add(string name, string message)
    {
        if (!_errors.TryGetValue(name, out List<string>? messages))
        {
            _errors[name] = messages = [];
        }

        messages.Add(message);
    }

    public IDictionary<string, string[]> ToDictionary() =>
        _errors.ToDictionary(pair => pair.Key, pair => pair.Value.ToArray(), StringComparer.Ordinal);

    public int? OptionalInt(string name, string? raw, int min, int max)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        if (!int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
        {
            Add(name, $"'{Shorten(raw)}' is not a whole number.");
            return null;
        }

        if (value < min || value > max)
        {
            Add(name, $"Must be between {min} and {max}.");
            return null;
        }

        return value;
    }

    public decimal? OptionalDecimal(string name, string? raw, decimal min, decimal max)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        if (!decimal.TryParse(raw, NumberStyles.Number, CultureInfo.InvariantCulture, out decimal value))
        {
            Add(name, $"'{Shorten(raw)}' is not a number.");
            return null;
        }

        if (value < min || value > max)
        {
            Add(name, $"Must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}.");
            return null;
        }

        return value;
    }

    public string? RequiredText(string name, string? value, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            Add(name, "Is required.");
            return null;
        }

        return OptionalText(name, value, maxLength);
    }

    public string? OptionalText(string name, string? value, int maxLength)
    {
        string? trimmed = value?.Trim();
        if (trimmed is not null && trimmed.Length > maxLength)
        {
            Add(name, $"Must be at most {maxLength} characters.");
            return null;
        }

        return trimmed;
    }

    public T Required<T>(string name, T? value, T min, T max)
        where T : struct, IComparable<T>
    {
        if (value is not { } present)
        {
            Add(name, "Is required.");
            return default;
        }

        if (present.CompareTo(min) < 0 || present.CompareTo(max) > 0)
        {
            Add(name, FormattableString.Invariant($"Must be between {min} and {max}."));
        }

        return present;
    }

    /// <summary>A price as the DECIMAL(12,2) column holds it: non-negative, at most two decimals (no silent rounding).</summary>
    public decimal Price(string name, decimal? value)
    {
        decimal price = Required(name, value, 0m, 1_000_000_000m);
        if (value is not null && decimal.Round(price, 2) != price)
        {
            Add(name, "At most two decimals.");
        }

        return price;
    }

    private static string Shorten(string raw) => raw.Length <= 40 ? raw : raw[..40] + "…";
}
