using System.ComponentModel.DataAnnotations;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Extensions.Options;

namespace Bazaar.Worker.Catalog;

/// <summary>The worker's client credentials at auth-api, bound from <c>ServiceAuth</c> (env ServiceAuth__ClientId, ServiceAuth__ClientSecret).</summary>
public sealed class ServiceAuthOptions
{
    public const string SectionName = "ServiceAuth";

    [Required]
    public Uri Authority { get; set; } = new("http://auth-api");

    [Required]
    public string ClientId { get; set; } = "worker";

    [Required(ErrorMessage = "ServiceAuth:ClientSecret is required (the AppHost passes ServiceAuth__ClientSecret; auth-api knows it as Auth:Clients:{clientId}:Secret).")]
    public string ClientSecret { get; set; } = "";
}

/// <summary>
/// A client-credentials token from auth-api (role "service"), fetched when first needed and again shortly before it
/// expires or after the catalog refused it, shared by every call of this process.
/// </summary>
public sealed class ServiceTokenSource(IHttpClientFactory httpClientFactory, IOptions<ServiceAuthOptions> options, TimeProvider time)
{
    public const string HttpClientName = "Bazaar.Worker.ServiceToken";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private (string Token, DateTimeOffset RefreshAt)? _current;

    public async Task<string> GetAsync(CancellationToken cancellationToken)
    {
        if (_current is { } current && time.GetUtcNow() < current.RefreshAt)
        {
            return current.Token;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_current is { } fresh && time.GetUtcNow() < fresh.RefreshAt)
            {
                return fresh.Token;
            }

            ServiceAuthOptions settings = options.Value;
            HttpClient http = httpClientFactory.CreateClient(HttpClientName);
            using HttpResponseMessage response = await http.PostAsJsonAsync(
                new Uri(settings.Authority, "/api/auth/token"), new { clientId = settings.ClientId, clientSecret = settings.ClientSecret }, cancellationToken).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            TokenAnswer answer = await response.Content.ReadFromJsonAsync<TokenAnswer>(cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException("auth-api answered the token request with an empty body.");
            TimeSpan lifetime = TimeSpan.FromSeconds(Math.Max(answer.ExpiresIn, 1));
            _current = (answer.AccessToken, time.GetUtcNow() + lifetime * 0.8);
            return answer.AccessToken;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Invalidate() => _current = null;

    private sealed record TokenAnswer(string AccessToken, int ExpiresIn);
}

/// <summary>Puts the service token on every request of a client; drops it when refused so the next call fetches a new one.</summary>
public sealed class ServiceTokenHandler(ServiceTokenSource tokens) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await tokens.GetAsync(cancellationToken).ConfigureAwait(false));
        HttpResponseMessage response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == System.Net.HttpStatusCode.Unauthorized)
        {
            tokens.Invalidate();
        }

        return response;
    }
}
