namespace Bazaar.Hosting;

/// <summary>
/// A secret the engine generates once per data directory (kept in secrets.json beside the servers' passwords), for
/// values two services must share, such as a client secret known to both auth-api and its client.
/// </summary>
public sealed class GeneratedSecret(string name)
{
    private string? _value;

    public string Name { get; } = name;

    /// <summary>Known once the application is started (or its data directory prepared).</summary>
    public string Value
    {
        get => _value ?? throw new InvalidOperationException($"The secret '{Name}' is generated when the application starts.");
        internal set => _value = value;
    }
}
