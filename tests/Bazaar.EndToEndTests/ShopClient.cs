using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Bazaar.EndToEndTests;

/// <summary>
/// The shop's HTTP APIs as a running AppHost's services serve them: accounts, tokens, orders. <paramref name="endpoint"/>
/// gives a service's base address by its name (a replica by <c>catalog-api-0</c>, <c>catalog-api-1</c>).
/// </summary>
public sealed class ShopClient(Func<string, Uri> endpoint, HttpClient http)
{
    private const int MaxPlacementAttempts = 4;

    public ShopClient(BazaarAppHost host, HttpClient http)
        : this(host.Endpoint, http)
    {
    }

    /// <summary>The address of <paramref name="path"/> on <paramref name="service"/>.</summary>
    public Uri ServiceUri(string service, string path) => new(endpoint(service), path);

    public async Task<HttpResponseMessage> SendAsync(string service, string method, string path, string? token)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), ServiceUri(service, path));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await http.SendAsync(request);
    }

    public async Task<string> LoginAsync(string email, string password)
    {
        using HttpResponseMessage response = await http.PostAsJsonAsync(ServiceUri("auth-api", "/api/auth/login"), new { email, password });
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"login of {email}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
    }

    /// <summary>Registers a customer with a unique e-mail and returns their access token.</summary>
    public async Task<string> RegisterAndLoginAsync()
    {
        (string email, string password) = await RegisterAsync();
        return await LoginAsync(email, password);
    }

    /// <summary>Registers a customer with a unique e-mail and returns the credentials.</summary>
    public async Task<(string Email, string Password)> RegisterAsync()
    {
        string email = $"buyer-{Guid.NewGuid():N}@example.com";
        const string Password = "a long enough passphrase";
        using HttpResponseMessage registered = await http.PostAsJsonAsync(
            ServiceUri("auth-api", "/api/auth/register"), new { email, password = Password, displayName = "Buyer" });
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        return (email, Password);
    }

    /// <summary>
    /// Places one order of one unit and returns its id (32 hex digits); <paramref name="traceparent"/> makes the test
    /// the caller of a trace. Like the client order-api's README describes, a 503 (the catalog not answering yet, as
    /// its first, cold call can on a loaded machine) is retried with the same Idempotency-Key after its Retry-After,
    /// a few times at most.
    /// </summary>
    public async Task<string> PlaceOrderAsync(string token, int productId, string? traceparent = null)
    {
        string idempotencyKey = Guid.NewGuid().ToString();
        for (var attempt = 1; ; attempt++)
        {
            using var place = new HttpRequestMessage(HttpMethod.Post, ServiceUri("order-api", "/api/orders"))
            {
                Content = JsonContent.Create(new
                {
                    items = new[] { new { productId, quantity = 1 } },
                    shippingAddress = new { name = "Ada", line1 = "1 Market Street", city = "Springfield", postalCode = "12345", country = "NL" },
                    paymentMethod = "card",
                }),
            };
            place.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            place.Headers.Add("Idempotency-Key", idempotencyKey);
            if (traceparent is not null)
            {
                place.Headers.Add("traceparent", traceparent);
            }

            using HttpResponseMessage placed = await http.SendAsync(place);
            if (placed.StatusCode == HttpStatusCode.ServiceUnavailable && attempt < MaxPlacementAttempts)
            {
                Assert.True(placed.Headers.RetryAfter?.Delta is not null, "a 503 from order-api carries Retry-After in seconds");
                await Task.Delay(placed.Headers.RetryAfter.Delta.Value);
                continue;
            }

            Assert.True(placed.StatusCode == HttpStatusCode.Accepted, $"placing an order (attempt {attempt}): {(int)placed.StatusCode} {await placed.Content.ReadAsStringAsync()}");
            return (await placed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetString()!.Replace("-", "", StringComparison.Ordinal);
        }
    }

    public async Task WaitForOrderStatusAsync(string orderId, string token, string status)
    {
        var deadline = Stopwatch.StartNew();
        string last = "";
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            using HttpResponseMessage response = await SendAsync("order-api", "GET", $"/api/orders/{orderId}", token);
            last = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode && JsonDocument.Parse(last).RootElement.GetProperty("status").GetString() == status)
            {
                return;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"Order {orderId} did not reach {status} within 60 s; last answer: {last}");
    }
}
