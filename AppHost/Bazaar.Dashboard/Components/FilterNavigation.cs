using Microsoft.AspNetCore.Components;

namespace Bazaar.Dashboard.Components;

internal static class FilterNavigation
{
    /// <summary>
    /// A filter's new value goes into the address (so a filtered page can be linked and the back button undoes it);
    /// the page reads its filters from the query and queries again, over the circuit, without a reload.
    /// </summary>
    public static void Filter(this NavigationManager navigation, string name, ChangeEventArgs change) =>
        navigation.NavigateTo(navigation.GetUriWithQueryParameter(name, change.Value is string { Length: > 0 } value ? value : null));
}
