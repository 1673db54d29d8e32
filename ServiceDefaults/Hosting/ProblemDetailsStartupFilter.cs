using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Bazaar.ServiceDefaults.Hosting;

/// <summary>
/// Puts the exception handler and status-code pages at the very front of the pipeline, whatever order a
/// service's Program.cs uses, so every error leaves as problem details (RFC 9457). Outside Development the
/// exception handler writes no exception detail; in Development the developer exception page does.
/// </summary>
internal sealed class ProblemDetailsStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        next(app);
    };
}
