namespace Bazaar.Dashboard.Telemetry;

/// <summary>The data points of one instrument exported at one moment, merged over their attribute sets.</summary>
internal sealed class MetricExport(long timeNs)
{
    public long TimeNs { get; } = timeNs;
    public double Value { get; set; }
    public double[] Bounds { get; private set; } = [];
    public long[] Buckets { get; private set; } = [];

    public void Add(double[] bounds, long[] buckets)
    {
        if (Buckets.Length == 0)
        {
            Bounds = bounds;
            Buckets = (long[])buckets.Clone();
            return;
        }
        // Attribute sets of one instrument share its bucket layout; a set that does not is left out rather than mixed in wrongly.
        if (!bounds.AsSpan().SequenceEqual(Bounds) || buckets.Length != Buckets.Length) return;
        for (var i = 0; i < buckets.Length; i++) Buckets[i] += buckets[i];
    }
}

internal static class HistogramMath
{
    /// <summary>
    /// P50/P90/P99 per export of what was recorded since the export before it. .NET exports cumulative
    /// histograms, so each export's buckets minus the previous one's are the recent recordings; a drop
    /// means the process restarted, and then the export itself is the recent part.
    /// </summary>
    public static IReadOnlyList<SeriesPoint> Percentiles(IReadOnlyList<MetricExport> exports)
    {
        var points = new List<SeriesPoint>();
        long[]? previous = null;
        foreach (var export in exports)
        {
            var recent = export.Buckets;
            if (previous is not null && previous.Length == recent.Length)
            {
                var delta = new long[recent.Length];
                var reset = false;
                for (var i = 0; i < recent.Length; i++)
                {
                    delta[i] = recent[i] - previous[i];
                    reset |= delta[i] < 0;
                }
                if (!reset) recent = delta;
            }
            previous = export.Buckets;
            var time = TelemetryStore.FromNanos(export.TimeNs);
            if (recent.Sum() == 0)
            {
                points.Add(new SeriesPoint(time, 0));
                continue;
            }
            points.Add(new SeriesPoint(
                time,
                recent.Sum(),
                Quantile(export.Bounds, recent, 0.50),
                Quantile(export.Bounds, recent, 0.90),
                Quantile(export.Bounds, recent, 0.99)));
        }
        return points;
    }

    /// <summary>Linear interpolation inside the bucket that holds the quantile's rank.</summary>
    public static double Quantile(double[] bounds, long[] buckets, double quantile)
    {
        var total = buckets.Sum();
        if (total == 0 || buckets.Length == 0) return 0;
        var rank = quantile * total;
        long seen = 0;
        for (var i = 0; i < buckets.Length; i++)
        {
            if (buckets[i] == 0 || seen + buckets[i] < rank)
            {
                seen += buckets[i];
                continue;
            }
            // Bucket i holds (bounds[i-1], bounds[i]]; the first starts at 0 (durations and sizes are not negative)
            // and the last has no upper bound, so the best answer there is its lower bound.
            if (bounds.Length == 0) return 0;
            var lower = i == 0 ? Math.Min(0, bounds[0]) : bounds[i - 1];
            if (i >= bounds.Length) return bounds[^1];
            var upper = bounds[i];
            return lower + (upper - lower) * ((rank - seen) / buckets[i]);
        }
        return bounds.Length == 0 ? 0 : bounds[^1];
    }
}

/// <summary>OTLP severity numbers, grouped by fours (TRACE 1-4 ... FATAL 21-24).</summary>
public static class Severity
{
    public const int Trace = 1, Debug = 5, Information = 9, Warning = 13, Error = 17, Critical = 21;

    public static string Name(int severity) => severity switch
    {
        >= Critical => "Critical",
        >= Error => "Error",
        >= Warning => "Warning",
        >= Information => "Information",
        >= Debug => "Debug",
        >= Trace => "Trace",
        _ => "Unspecified",
    };
}
