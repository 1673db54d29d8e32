using System.Net.Http.Headers;
using System.Net.Http.Json;
using Bazaar.Admin.Auth;
using Microsoft.AspNetCore.Components.Authorization;

namespace Bazaar.Admin.Api;

/// <summary>
/// The shop's services as the signed-in admin: each call goes through service discovery (http://order-api reaches the
/// address the AppHost gave) and ServiceDefaults' resilient HttpClient, with the admin's own bearer token.
/// </summary>
public sealed class AdminApi(IHttpClientFactory clients, AuthenticationStateProvider authenticationState, AdminAuthentication authentication)
{
    public const string OrderApi = "order-api";
    public const string CatalogApi = "catalog-api";
    public const string Worker = "worker";

    /// <summary>The services this app calls; each gets a named HttpClient aimed at http://{service}.</summary>
    public static readonly string[] Services = [AdminAuthentication.AuthApi, OrderApi, CatalogApi, Worker];

    public Task<ApiResult<T>> GetAsync<T>(string service, string path, CancellationToken cancellationToken) =>
        SendAsync<T>(service, HttpMethod.Get, path, null, cancellationToken);

    public async Task<ApiResult<T>> SendAsync<T>(string service, HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        AuthenticationState state = await authenticationState.GetAuthenticationStateAsync();
        if (authentication.SessionOf(state.User) is not { } session)
        {
            return ApiProblem.SignedOut;
        }

        ApiResult<string> token = await authentication.AccessTokenAsync(session, cancellationToken);
        if (token.Value is null)
        {
            return token.Problem!;
        }

        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Value);
        return await ServiceCall.SendAsync<T>(clients.CreateClient(service), service, request, cancellationToken);
    }
}
