using System.ComponentModel.DataAnnotations;

namespace Bazaar.Dashboard;

/// <summary>Configuration section "Dashboard" (environment: Dashboard__OtlpUrl, Dashboard__MaxSpans, ...).</summary>
public sealed class DashboardOptions
{
    public const string SectionName = "Dashboard";

    /// <summary>Where the OTLP/HTTP receiver listens; services' OTEL_EXPORTER_OTLP_ENDPOINT points here.</summary>
    [Required]
    public string OtlpUrl { get; set; } = "http://127.0.0.1:18889";

    /// <summary>The directory holding telemetry.db; relative paths are taken from the current directory.</summary>
    public string DataDirectory { get; set; } = ".bazaar";

    [Range(1_000, 50_000_000)]
    public int MaxSpans { get; set; } = 200_000;

    [Range(1_000, 50_000_000)]
    public int MaxLogs { get; set; } = 100_000;

    [Range(1_000, 50_000_000)]
    public int MaxMetricPoints { get; set; } = 200_000;

    /// <summary>
    /// Rows received and not yet written that the receiver holds before it drops the oldest (counted in
    /// /api/telemetry/stats). About half a second of the writer's work at full speed; a burst beyond it is shed
    /// rather than slowing the exporters down.
    /// </summary>
    [Range(1_000, 10_000_000)]
    public int MaxQueuedRows { get; set; } = 100_000;

    /// <summary>
    /// The Linux nice value of the thread that writes telemetry to SQLite (0 to 19; 0 leaves it at the normal
    /// priority). Above 0, a machine the services saturate serves their requests first and the dashboard sheds
    /// queued telemetry instead; on an idle or moderately loaded machine it changes nothing.
    /// </summary>
    [Range(0, 19)]
    public int WriterNice { get; set; } = 10;

    /// <summary>
    /// The shortest time between two of the writer's transactions (0 writes whenever anything is queued). Rows
    /// gather in between: trace ids are random, so each commit rewrites index pages all over the file, and a few
    /// large transactions cost far less per row than many small ones. Telemetry shows up on the pages this much later.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:05")]
    public TimeSpan WriteInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The browser token required when the dashboard is bound to a non-loopback address; generated when empty.</summary>
    public string? BrowserToken { get; set; }

    public string ResolveDataDirectory() => Path.GetFullPath(Path.Combine(DataDirectory, "dashboard"));
}
