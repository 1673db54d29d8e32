using System.Diagnostics;

namespace Bazaar.Data;

/// <summary>The ActivitySource every database span comes from; ServiceDefaults listens to <c>Bazaar.*</c>.</summary>
public static class DataTelemetry
{
    public const string ActivitySourceName = "Bazaar.Data";

    internal static readonly ActivitySource Source = new(ActivitySourceName);
}
