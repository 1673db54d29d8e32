using System.ComponentModel.DataAnnotations;

namespace Bazaar.Worker.Saga;

/// <summary>The order saga's clocks, bound from <c>Saga</c>.</summary>
public sealed class SagaOptions
{
    public const string SectionName = "Saga";

    /// <summary>An order still waiting for payment this long after its stock was reserved is cancelled and its stock released.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "7.00:00:00")]
    public TimeSpan PaymentTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often the sweeper looks for such orders.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Extra life of a reservation in the catalog beyond the payment timeout: the catalog releases it by itself only
    /// as a last resort, when the worker was down for longer than the payment timeout and this margin together.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan ReservationMargin { get; set; } = TimeSpan.FromMinutes(5);
}
