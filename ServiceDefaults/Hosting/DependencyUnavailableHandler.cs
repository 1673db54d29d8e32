using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Bazaar.ServiceDefaults.Hosting;

/// <summary>
/// Which exceptions mean that a backing service (Redis, the database, a broker) did not answer, rather than a bug.
/// Redis errors and timeouts are known here; a library adds its own (Bazaar.Data adds MySQL's transient errors).
/// </summary>
public sealed class DependencyFailureOptions
{
    public IList<Func<Exception, bool>> Predicates { get; } = [];

    /// <summary>How long a caller is asked to wait before retrying (<c>Retry-After</c>).</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    public bool IsDependencyFailure(Exception exception) =>
        exception is RedisException or TimeoutException || Predicates.Any(predicate => predicate(exception));
}

/// <summary>
/// Answers a request that failed because a backing service did not answer with 503 problem details and Retry-After,
/// instead of the 500 that an unhandled exception gets: the service is unavailable for now, the request was not wrong.
/// It serves both error paths: the exception handler outside Development, and the developer exception page (as its
/// filter) in Development, where the page would otherwise catch the exception first and answer 500.
/// </summary>
internal sealed partial class DependencyUnavailableHandler(
    IProblemDetailsService problemDetails, IOptions<DependencyFailureOptions> options, ILogger<DependencyUnavailableHandler> logger)
    : IExceptionHandler, IDeveloperPageExceptionFilter
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken) =>
        options.Value.IsDependencyFailure(exception) && await WriteUnavailableAsync(httpContext, exception);

    public async Task HandleExceptionAsync(ErrorContext errorContext, Func<ErrorContext, Task> next)
    {
        if (!options.Value.IsDependencyFailure(errorContext.Exception) || errorContext.HttpContext.Response.HasStarted
            || !await WriteUnavailableAsync(errorContext.HttpContext, errorContext.Exception))
        {
            await next(errorContext);
        }
    }

    private async ValueTask<bool> WriteUnavailableAsync(HttpContext httpContext, Exception exception)
    {
        LogUnavailable(logger, httpContext.Request.Method, httpContext.Request.Path, exception.GetType().Name, exception);
        httpContext.Response.Clear();
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.SetRetryAfter(options.Value.RetryAfter);
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Type = "https://tools.ietf.org/html/rfc9110#section-15.6.4",
                Title = "Service unavailable",
                Detail = "A service this one depends on (its cache, database or broker) did not answer in time. Retry after the time in Retry-After.",
            },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: a backing service did not answer ({ExceptionType})")]
    private static partial void LogUnavailable(ILogger logger, string method, PathString path, string exceptionType, Exception exception);
}
