using Microsoft.Playwright;

namespace Bazaar.EndToEndTests;

/// <summary>
/// Debian's chromium, headless, driven by Playwright (eng/DEPENDENCIES.md): one browser for a test class, and pages
/// whose navigations and expectations wait 60 s, since a first page load of a cold server on two loaded cores has taken
/// over Playwright's default 30 s.
/// </summary>
public sealed class Chromium : IAsyncDisposable
{
    private const float Timeout = 60_000;

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private Chromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        _browser = browser;
    }

    public static async Task<Chromium> LaunchAsync()
    {
        Assertions.SetDefaultExpectTimeout(Timeout);
        IPlaywright playwright = await Playwright.CreateAsync();
        try
        {
            IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = "/usr/bin/chromium",
                Headless = true,
                Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            });
            return new Chromium(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    public async Task<IPage> NewPageAsync(int width, int height)
    {
        IPage page = await _browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        page.SetDefaultTimeout(Timeout);
        return page;
    }

    /// <summary>
    /// Waits until the page's layout was rendered over the Blazor circuit (<c>main[data-circuit='connected']</c>, set by
    /// the admin's layout): before that the page is prerendered HTML, and a click does nothing.
    /// </summary>
    public static Task ExpectCircuitAsync(IPage page) => Assertions.Expect(page.Locator("main[data-circuit='connected']")).ToBeAttachedAsync();

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
