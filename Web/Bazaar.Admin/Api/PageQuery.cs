using System.Globalization;

namespace Bazaar.Admin.Api;

/// <summary>
/// The <c>page</c> query value of a listing page (0 is the first page). Pages take it as a string and parse it here:
/// a value Blazor cannot convert for a typed query parameter would fail the whole page with a 500.
/// </summary>
public static class PageQuery
{
    /// <summary>The page index, or the problem to show instead of the listing.</summary>
    public static ApiResult<int> Parse(string? value) =>
        string.IsNullOrEmpty(value) ? new ApiResult<int>(0, null)
        : int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int pageIndex) && pageIndex <= 1_000_000 ? new ApiResult<int>(pageIndex, null)
        : new ApiProblem(400, "Not a page number", $"'{value}' is not a page number (0 is the first page).", ApiProblem.NoErrors);
}
