using Bazaar.Dashboard.Telemetry;

namespace Bazaar.UnitTests.Dashboard;

public sealed class HistogramMathTests
{
    private static readonly double[] Bounds = [10, 20, 30, 40];

    [Fact]
    public void The_median_of_evenly_filled_buckets_lies_in_the_middle_bucket()
    {
        Assert.Equal(20, HistogramMath.Quantile(Bounds, [10, 10, 10, 10, 0], 0.5), precision: 6);
    }

    [Fact]
    public void A_quantile_in_the_open_last_bucket_is_its_lower_bound()
    {
        Assert.Equal(40, HistogramMath.Quantile(Bounds, [0, 0, 0, 0, 5], 0.99));
    }

    [Fact]
    public void Percentiles_of_cumulative_exports_describe_what_was_recorded_between_them()
    {
        var first = new MetricExport(1_000_000_000);
        first.Add(Bounds, [100, 0, 0, 0, 0]);
        var second = new MetricExport(2_000_000_000);
        second.Add(Bounds, [100, 0, 0, 50, 0]);

        var points = HistogramMath.Percentiles([first, second]);

        Assert.InRange(points[0].P99!.Value, 0, 10);
        Assert.InRange(points[1].P50!.Value, 30, 40);
        Assert.Equal(50, points[1].Value);
    }

    [Fact]
    public void A_process_restart_that_resets_the_counts_starts_over_instead_of_going_negative()
    {
        var before = new MetricExport(1);
        before.Add(Bounds, [0, 0, 0, 90, 0]);
        var after = new MetricExport(2);
        after.Add(Bounds, [5, 0, 0, 0, 0]);

        var points = HistogramMath.Percentiles([before, after]);

        Assert.Equal(5, points[1].Value);
        Assert.InRange(points[1].P50!.Value, 0, 10);
    }

    [Fact]
    public void Attribute_sets_with_the_same_buckets_are_merged()
    {
        var export = new MetricExport(1);
        export.Add(Bounds, [1, 2, 3, 4, 5]);
        export.Add(Bounds, [1, 1, 1, 1, 1]);

        Assert.Equal([2, 3, 4, 5, 6], export.Buckets);
    }
}
