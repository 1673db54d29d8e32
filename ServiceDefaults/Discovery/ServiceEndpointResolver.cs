using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace Bazaar.ServiceDefaults.Discovery;

/// <summary>
/// Resolves a logical service name to one of its endpoints, read from Aspire's configuration keys
/// <c>services:{name}:{scheme}:{index}</c>, taking the replicas in turn. As in Aspire, a scheme such as
/// <c>https+http://catalog-api</c> takes the first scheme that has endpoints.
/// </summary>
public sealed class ServiceEndpointResolver
{
    private readonly IConfiguration configuration;
    private readonly ConcurrentDictionary<(string Service, string Scheme), Endpoints> cache = new();

    public ServiceEndpointResolver(IConfiguration configuration)
    {
        this.configuration = configuration;
        ChangeToken.OnChange(configuration.GetReloadToken, cache.Clear);
    }

    /// <summary>
    /// Only single-label host names are service names: <c>catalog-api</c> is, while <c>localhost</c>,
    /// IP literals and dotted names (<c>api.example.com</c>) are real hosts and pass through untouched.
    /// </summary>
    public static bool IsServiceName(string host) =>
        !host.Contains('.', StringComparison.Ordinal)
        && !host.Contains(':', StringComparison.Ordinal)
        && !string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        && !IPAddress.TryParse(host, out _);

    public Uri Resolve(Uri requestUri)
    {
        ArgumentNullException.ThrowIfNull(requestUri);
        if (!requestUri.IsAbsoluteUri || !IsServiceName(requestUri.IdnHost))
        {
            return requestUri;
        }

        string service = requestUri.IdnHost;
        Endpoints endpoints = cache.GetOrAdd((service, requestUri.Scheme), static (key, config) => Endpoints.Read(config, key.Service, key.Scheme), configuration);
        Uri endpoint = endpoints.Next();

        var resolved = new UriBuilder(requestUri)
        {
            Scheme = endpoint.Scheme,
            Host = endpoint.Host,
            Port = endpoint.Port,
        };
        if (endpoint.AbsolutePath.Length > 1)
        {
            resolved.Path = endpoint.AbsolutePath.TrimEnd('/') + requestUri.AbsolutePath;
        }

        return resolved.Uri;
    }

    private sealed class Endpoints(Uri[] uris)
    {
        private int next = -1;

        public static Endpoints Read(IConfiguration configuration, string service, string schemes)
        {
            string[] candidates = schemes.Split('+', StringSplitOptions.RemoveEmptyEntries);
            foreach (string scheme in candidates)
            {
                var uris = new List<Uri>();
                for (int index = 0; ; index++)
                {
                    string key = $"services:{service}:{scheme}:{index}";
                    string? value = configuration[key];
                    if (string.IsNullOrWhiteSpace(value))
                    {
                        break;
                    }

                    if (!Uri.TryCreate(value, UriKind.Absolute, out Uri? uri))
                    {
                        throw new InvalidOperationException($"Configuration key '{key}' holds '{value}', which is not an absolute URI.");
                    }

                    uris.Add(uri);
                }

                if (uris.Count > 0)
                {
                    return new Endpoints([.. uris]);
                }
            }

            string keys = string.Join(" or ", candidates.Select(scheme => $"'services:{service}:{scheme}:0'"));
            string first = candidates.Length > 0 ? candidates[0] : "http";
            throw new InvalidOperationException(
                $"No endpoint is configured for service '{service}': set configuration key {keys} " +
                $"(environment variable 'services__{service}__{first}__0'), for example to '{first}://127.0.0.1:5000'.");
        }

        public Uri Next()
        {
            // Unsigned so the turn keeps going round after int.MaxValue requests.
            uint turn = unchecked((uint)Interlocked.Increment(ref next));
            return uris[turn % (uint)uris.Length];
        }
    }
}
