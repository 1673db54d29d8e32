using System.ComponentModel.DataAnnotations;
using Bazaar.Data;
using Microsoft.Extensions.Options;
using MySqlConnector;

namespace Bazaar.Worker.Payments;

/// <summary>The simulated payment provider, bound from <c>Payments</c>.</summary>
public sealed class PaymentOptions
{
    public const string SectionName = "Payments";

    /// <summary>How long the provider takes to answer a charge.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan Latency { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>How long the saga waits for the provider before leaving the order to the payment timeout.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a reserve step, which shares its transaction with the other orders of its batch, waits for the provider
    /// before it hands the payment to a step of its own (so a provider that does not answer holds those orders this long,
    /// not for <see cref="CallTimeout"/>). At or above <see cref="CallTimeout"/> it never hands over.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan HandOverAfter { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>This payment method is always declined.</summary>
    [Required]
    public string DeclineMethod { get; set; } = "test-decline";

    /// <summary>This payment method is never answered, so the payment timeout path runs.</summary>
    [Required]
    public string NoAnswerMethod { get; set; } = "test-timeout";
}

public abstract record PaymentAnswer
{
    public sealed record Approved(string Reference) : PaymentAnswer;

    public sealed record Declined(string Reason) : PaymentAnswer;
}

/// <summary>
/// Stands in for a card processor. Charges are idempotent by key (the order id), as real processors offer: a retried
/// charge answers what the first answered and never takes the money twice. It writes its own ledger on its own
/// connection, outside the saga's transaction, because a real provider would not roll back with us either.
/// </summary>
public sealed class SimulatedPaymentProvider(MySqlDataSource database, TimeProvider time, IOptions<PaymentOptions> options)
{
    // Record (a repeat keeps the first charge) and read back what is recorded, in one round trip.
    private static readonly SqlStatement RecordAndRead = new("simulated_payment_charges.insert_and_select", """
        INSERT IGNORE INTO simulated_payment_charges (idempotency_key, reference, amount, state, reason, created_at)
        VALUES (@key, @reference, @amount, @state, @reason, @now);
        SELECT reference AS Reference, state AS State, reason AS Reason FROM simulated_payment_charges WHERE idempotency_key = @key
        """);

    private static readonly SqlStatement Refund = new("simulated_payment_charges.refund", """
        UPDATE simulated_payment_charges SET state = 'Refunded', refunded_at = @now WHERE idempotency_key = @key AND state = 'Charged'
        """);

    public async Task<PaymentAnswer> ChargeAsync(string idempotencyKey, decimal amount, string paymentMethod, CancellationToken cancellationToken)
    {
        PaymentOptions settings = options.Value;
        if (settings.Latency > TimeSpan.Zero)
        {
            await Task.Delay(settings.Latency, time, cancellationToken).ConfigureAwait(false);
        }

        if (string.Equals(paymentMethod, settings.NoAnswerMethod, StringComparison.OrdinalIgnoreCase))
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellationToken).ConfigureAwait(false);
        }

        bool decline = string.Equals(paymentMethod, settings.DeclineMethod, StringComparison.OrdinalIgnoreCase);
        Charge charge = (await database.WithConnectionAsync((connection, token) => connection.QuerySingleOrDefaultAsync<Charge>(RecordAndRead, new
        {
            key = idempotencyKey,
            reference = Guid.NewGuid().ToString("N"),
            amount,
            state = decline ? "Declined" : "Charged",
            reason = decline ? "the card was declined" : null,
            now = time.GetUtcNow().UtcDateTime,
        }, cancellationToken: token), cancellationToken).ConfigureAwait(false))!;

        return charge.State == "Charged"
            ? new PaymentAnswer.Approved(charge.Reference)
            : new PaymentAnswer.Declined(charge.Reason ?? "the charge was " + charge.State.ToLowerInvariant());
    }

    /// <summary>Gives the money of a charge back; nothing happens when there was no charge or it was refunded already.</summary>
    public Task<int> RefundAsync(string idempotencyKey, CancellationToken cancellationToken) =>
        database.WithConnectionAsync(
            (connection, token) => connection.ExecuteAsync(Refund, new { key = idempotencyKey, now = time.GetUtcNow().UtcDateTime }, cancellationToken: token),
            cancellationToken);

    private sealed record Charge(string Reference, string State, string? Reason);
}
