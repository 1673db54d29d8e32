using System.Net;
using Bazaar.Admin.Auth;
using Bazaar.IntegrationTests.Auth;
using Bazaar.IntegrationTests.Order;

namespace Bazaar.IntegrationTests.Admin;

/// <summary>Signing in to the admin app against the real auth-api: who gets in, who does not, and what the browser holds.</summary>
[Collection(OrderSystemCollection.Name)]
public sealed class AdminSignInTests(AdminSystemFixture fixture) : IClassFixture<AdminSystemFixture>
{
    [Theory]
    [InlineData("/")]
    public async Task An_anonymous_visitor_is_sent_to_the_sign_in_page(string page)
    {
        using AdminBrowser browser = fixture.Browser();

        using HttpResponseMessage response = await browser.Client.GetAsync(page);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/signin?ReturnUrl=" + Uri.EscapeDataString(page), response.Headers.Location?.PathAndQuery);
    }

    [Fact]
    public async Task An_admin_signs_in_gets_an_http_only_strict_cookie_without_tokens_and_signs_out()
    {
        using AdminBrowser browser = fixture.Browser();

        using HttpResponseMessage signedIn = await browser.SignInAsync(AuthApiFactory.AdminEmail, AuthApiFactory.AdminPassword, "/?from=test");

        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal("/?from=test", AdminBrowser.Target(signedIn));
        string cookie = Assert.Single(signedIn.Headers.GetValues("Set-Cookie"), c => c.StartsWith(AdminAuthenticationExtensions.CookieName + "=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("eyJ", cookie, StringComparison.Ordinal); // no JWT in clear
        using HttpResponseMessage home = await browser.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
        Assert.Contains("Sign out", await home.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using HttpResponseMessage signedOut = await browser.SignOutAsync();

        Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
        using HttpResponseMessage after = await browser.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
    }

    [Fact]
    public async Task A_customer_is_refused_and_gets_no_cookie()
    {
        (string email, string password, _) = await fixture.System.Auth.RegisterAndLoginAsync("admin-ui-customer");
        using AdminBrowser browser = fixture.Browser();

        using HttpResponseMessage response = await browser.SignInAsync(email, password);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("Only administrators can sign in here", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out IEnumerable<string>? cookies)
                     && cookies.Any(c => c.StartsWith(AdminAuthenticationExtensions.CookieName + "=", StringComparison.Ordinal)));
        using HttpResponseMessage orders = await browser.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, orders.StatusCode);
    }

    [Theory]
    [InlineData("admin@bazaar.local", "not-the-password", HttpStatusCode.Unauthorized, "Wrong e-mail or password")]
    [InlineData("", "", HttpStatusCode.BadRequest, "Enter your e-mail address.")]
    [InlineData("not an address", "whatever", HttpStatusCode.BadRequest, "Enter a valid e-mail address.")]
    public async Task Bad_sign_in_input_gets_a_clear_message_never_a_500(string email, string password, HttpStatusCode status, string message)
    {
        using AdminBrowser browser = fixture.Browser();

        using HttpResponseMessage response = await browser.SignInAsync(email, password);

        Assert.Equal(status, response.StatusCode);
        Assert.Contains(message, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("//evil.example/", "/")]
    [InlineData("https://evil.example/", "/")]
    [InlineData("/\\evil.example", "/")]
    [InlineData("/?status=Paid", "/?status=Paid")]
    public async Task The_return_address_stays_inside_the_app(string returnUrl, string expected)
    {
        using AdminBrowser browser = fixture.Browser();

        using HttpResponseMessage response = await browser.SignInAsync(AuthApiFactory.AdminEmail, AuthApiFactory.AdminPassword, returnUrl);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(expected, AdminBrowser.Target(response));
    }
}
