namespace Bazaar.Worker;

/// <summary>
/// Names this assembly for <c>WebApplicationFactory&lt;WorkerEntryPoint&gt;</c> in test projects that host several
/// services (each service's top-level <c>Program</c> is in the global namespace, so <c>Program</c> is ambiguous there).
/// </summary>
public sealed class WorkerEntryPoint;
