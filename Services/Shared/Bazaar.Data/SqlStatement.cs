namespace Bazaar.Data;

/// <summary>
/// A named SQL statement. The name (for example <c>orders.insert</c>) becomes the span name, so traces say what ran
/// without carrying parameter values. Keep statements as static fields next to the code that uses them.
/// </summary>
public sealed record SqlStatement(string Name, string Text)
{
    public override string ToString() => Name;
}
