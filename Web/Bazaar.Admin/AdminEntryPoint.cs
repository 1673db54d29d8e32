namespace Bazaar.Admin;

/// <summary>
/// Names this assembly for <c>WebApplicationFactory&lt;AdminEntryPoint&gt;</c>: a test project that hosts several
/// services cannot say <c>Program</c>, since every service's top-level <c>Program</c> lives in the global namespace.
/// </summary>
public sealed class AdminEntryPoint;
