namespace Bazaar.Hosting;

/// <summary>A resource cannot be started at all (missing program, failed build, failed initialisation): retrying will not help.</summary>
internal sealed class ResourceLaunchException(string message, Exception? innerException = null) : Exception(message, innerException);
