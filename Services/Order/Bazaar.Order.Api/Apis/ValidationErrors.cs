namespace Bazaar.Order.Api.Apis;

/// <summary>Problems keyed by the parameter or body member they concern, for a 400 that names each one.</summary>
internal sealed class ValidationErrors
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

    /// <summary>A required text of 1..<paramref name="maxLength"/> characters; returns it trimmed.</summary>
    public string Text(string name, string? value, int maxLength)
    {
        string trimmed = value?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            Add(name, "Is required.");
        }
        else if (trimmed.Length > maxLength)
        {
            Add(name, $"Must be at most {maxLength} characters.");
        }

        return trimmed;
    }
}
