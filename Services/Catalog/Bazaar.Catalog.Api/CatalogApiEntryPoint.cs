namespace Bazaar.Catalog.Api;

/// <summary>
/// Names this assembly for <c>WebApplicationFactory&lt;CatalogApiEntryPoint&gt;</c> in test projects that host several
/// services (each service's top-level <c>Program</c> is in the global namespace, so <c>Program</c> is ambiguous there).
/// </summary>
public sealed class CatalogApiEntryPoint;
