using System.ComponentModel.DataAnnotations;
using Bazaar.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bazaar.Order.Api.Placement;

/// <summary>When the outbox relay of orderdb holds back during a placement peak, bound from <c>Orders:RelayHold</c>.</summary>
public sealed class RelayHoldOptions
{
    public const string SectionName = "Orders:RelayHold";

    /// <summary>
    /// order-api's relay holds back while this replica placed at least this many orders in the current and the previous
    /// second together (<see cref="PlacementPace.RecentLocal"/>); the worker's holds while its saga yields. 0 (the
    /// default): it never holds.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int PeakPlacements { get; set; }

    /// <summary>The longest the relay holds back in one peak; after that it publishes as usual until the peak ends.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan AtMost { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a held relay looks whether the peak is over.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:10")]
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromMilliseconds(50);
}

/// <summary>
/// Holds orderdb's outbox relay back during a placement peak (<see cref="IRelayThrottle"/>). While the saga yields, the
/// events the relay publishes would only wait in the worker's queue; publishing them costs order-api, MariaDB (claim and
/// mark) and RabbitMQ CPU on the two cores placement needs. Held, they wait in the outbox instead, committed, and go out
/// in full batches once the peak is over, or after <see cref="RelayHoldOptions.AtMost"/> if it lasts. Either process may
/// hold the relay's lease, so both register one: order-api judges the peak by its own count, the worker by its saga.
/// Called by the single relay loop only, one call at a time.
/// </summary>
public sealed class RelayHold(Func<bool> atPeak, IOptions<RelayHoldOptions> options, TimeProvider time) : IRelayThrottle
{
    private long _peakSeenAt = -1;

    /// <summary>
    /// Binds <see cref="RelayHoldOptions"/> and registers the relay's hold, judging the peak with what
    /// <paramref name="atPeak"/> builds from the process's services (asked only while the hold is on).
    /// </summary>
    public static IServiceCollection Register(IServiceCollection services, Func<IServiceProvider, Func<bool>> atPeak)
    {
        ArgumentNullException.ThrowIfNull(atPeak);
        services.AddOptions<RelayHoldOptions>().BindConfiguration(RelayHoldOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        return services.AddSingleton<IRelayThrottle>(sp =>
            new RelayHold(atPeak(sp), sp.GetRequiredService<IOptions<RelayHoldOptions>>(), sp.GetRequiredService<TimeProvider>()));
    }

    public ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (!AtPeak())
        {
            _peakSeenAt = -1;
            return ValueTask.CompletedTask;
        }

        if (_peakSeenAt < 0)
        {
            _peakSeenAt = time.GetTimestamp();
        }

        return HeldTooLong() ? ValueTask.CompletedTask : HoldAsync(cancellationToken);
    }

    private bool AtPeak() => options.Value.PeakPlacements > 0 && atPeak();

    private bool HeldTooLong() => time.GetElapsedTime(_peakSeenAt) >= options.Value.AtMost;

    private async ValueTask HoldAsync(CancellationToken cancellationToken)
    {
        do
        {
            await Task.Delay(options.Value.CheckInterval, time, cancellationToken).ConfigureAwait(false);
            if (!AtPeak())
            {
                _peakSeenAt = -1;
                return;
            }
        }
        while (!HeldTooLong());
    }
}
