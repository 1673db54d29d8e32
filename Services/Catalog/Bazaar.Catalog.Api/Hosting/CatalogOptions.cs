using System.ComponentModel.DataAnnotations;

namespace Bazaar.Catalog.Api.Hosting;

/// <summary>Settings of catalog-api, bound from the "Catalog" section.</summary>
public sealed class CatalogOptions
{
    public const string SectionName = "Catalog";

    /// <summary>Fill an empty database with the generated demo catalog on start.</summary>
    public bool SeedDemoData { get; set; } = true;

    [Range(50, 100_000)]
    public int DemoProductCount { get; set; } = 240;

    /// <summary>How often held reservations past their expiry are looked for and released.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan ReservationSweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Backstop re-read of the highest product id, for creates announced while pub/sub was down.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan HighestIdRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);
}
