namespace Bazaar.ServiceDefaults.Discovery;

/// <summary>
/// Sends a request for <c>http://catalog-api/...</c> to one of catalog-api's configured endpoints.
/// The original URI is put back afterwards so a retry resolves again, possibly to another replica.
/// </summary>
public sealed class ServiceDiscoveryHandler(ServiceEndpointResolver resolver) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Uri? original = request.RequestUri;
        if (original is null)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        request.RequestUri = resolver.Resolve(original);
        try
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            request.RequestUri = original;
        }
    }
}
