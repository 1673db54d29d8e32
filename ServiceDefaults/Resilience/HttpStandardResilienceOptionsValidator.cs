using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Bazaar.ServiceDefaults.Resilience;

/// <summary>
/// Checks the ranges Polly declares on each strategy's options, plus the cross-strategy rules of
/// Microsoft.Extensions.Http.Resilience, so a bad configuration stops the service at start, not at its first call.
/// </summary>
internal sealed class HttpStandardResilienceOptionsValidator : IValidateOptions<HttpStandardResilienceOptions>
{
    public ValidateOptionsResult Validate(string? name, HttpStandardResilienceOptions options)
    {
        var errors = new List<string>();
        ValidateRanges(nameof(options.RateLimiter), options.RateLimiter, errors);
        ValidateRanges(nameof(options.TotalRequestTimeout), options.TotalRequestTimeout, errors);
        ValidateRanges(nameof(options.Retry), options.Retry, errors);
        ValidateRanges(nameof(options.CircuitBreaker), options.CircuitBreaker, errors);
        ValidateRanges(nameof(options.AttemptTimeout), options.AttemptTimeout, errors);

        if (options.RateLimiter.DefaultRateLimiterOptions.PermitLimit <= 0)
        {
            errors.Add("RateLimiter.DefaultRateLimiterOptions.PermitLimit must be greater than 0.");
        }

        if (options.RateLimiter.DefaultRateLimiterOptions.QueueLimit < 0)
        {
            errors.Add("RateLimiter.DefaultRateLimiterOptions.QueueLimit must not be negative.");
        }

        if (options.AttemptTimeout.Timeout > options.TotalRequestTimeout.Timeout)
        {
            errors.Add(
                $"TotalRequestTimeout.Timeout ({options.TotalRequestTimeout.Timeout}) must not be shorter than AttemptTimeout.Timeout ({options.AttemptTimeout.Timeout}).");
        }

        if (options.CircuitBreaker.SamplingDuration < options.AttemptTimeout.Timeout * 2)
        {
            errors.Add(
                $"CircuitBreaker.SamplingDuration ({options.CircuitBreaker.SamplingDuration}) must be at least twice AttemptTimeout.Timeout ({options.AttemptTimeout.Timeout}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateRanges(string path, object strategyOptions, List<string> errors)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(strategyOptions, new ValidationContext(strategyOptions), results, validateAllProperties: true))
        {
            errors.AddRange(results.Select(r => $"{path}: {r.ErrorMessage}"));
        }
    }
}
