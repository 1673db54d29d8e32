using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Bazaar.Data;
using Bazaar.Worker.Saga;
using Microsoft.Extensions.Options;
using MySqlConnector;

namespace Bazaar.Worker.Callbacks;

/// <summary>Buyer callbacks, bound from <c>Callbacks</c>.</summary>
public sealed class CallbackOptions
{
    public const string SectionName = "Callbacks";

    /// <summary>The HMAC-SHA256 key of <c>X-Bazaar-Signature</c>; receivers verify with the same secret.</summary>
    [Required(ErrorMessage = "Callbacks:SigningSecret is required (the AppHost passes Callbacks__SigningSecret).")]
    [MinLength(16)]
    public string SigningSecret { get; set; } = "";

    /// <summary>Attempts in all; after the last failure the callback is given up (and stays recorded).</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 6;

    /// <summary>Delay after the first failure; it doubles after each further one.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(10);

    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Delivers the callbacks the order ledger wrote when orders reached Paid, Rejected or Cancelled: POSTs the JSON body
/// signed with HMAC-SHA256 (<c>X-Bazaar-Signature: sha256=HEX</c>), records every attempt, retries failures with doubling
/// delays and gives up after <see cref="CallbackOptions.MaxAttempts"/>. Due rows are leased with SKIP LOCKED, so
/// several workers share the work without sending one callback twice at once.
/// </summary>
internal sealed partial class CallbackDispatcher(
    MySqlDataSource database, IHttpClientFactory httpClientFactory, IOptions<CallbackOptions> options, TimeProvider time, ILogger<CallbackDispatcher> logger)
    : PeriodicWork(time, logger)
{
    public const string HttpClientName = "Bazaar.Worker.Callbacks";
    public const string SignatureHeader = "X-Bazaar-Signature";

    private static readonly SqlStatement ClaimDue = new("order_callbacks.claim_due", """
        SELECT id AS Id, order_id AS OrderId, url AS Url, body AS Body, attempts AS Attempts
        FROM order_callbacks WHERE state = 'Pending' AND next_attempt_at <= @now
        ORDER BY next_attempt_at LIMIT 32 FOR UPDATE SKIP LOCKED
        """);

    private static readonly SqlStatement Lease = new("order_callbacks.lease", "UPDATE order_callbacks SET next_attempt_at = @until WHERE id IN @ids");

    private static readonly SqlStatement RecordAttempt = new("order_callback_attempts.insert", """
        INSERT INTO order_callback_attempts (callback_id, attempt, attempted_at, status_code, error, duration_ms)
        VALUES (@id, @attempt, @at, @statusCode, @error, @durationMs)
        """);

    private static readonly SqlStatement Settle = new("order_callbacks.settle", """
        UPDATE order_callbacks SET attempts = @attempt, state = @state, next_attempt_at = @next, completed_at = @completedAt WHERE id = @id
        """);

    protected override TimeSpan Interval => options.Value.PollInterval;

    protected override async Task<bool> RunOnceAsync(CancellationToken cancellationToken) => await DispatchDueAsync(cancellationToken) > 0;

    internal async Task<int> DispatchDueAsync(CancellationToken cancellationToken)
    {
        CallbackOptions settings = options.Value;
        IReadOnlyList<DueCallback> due = await database.InTransactionAsync(async (connection, transaction, token) =>
        {
            DateTimeOffset now = Time.GetUtcNow();
            IReadOnlyList<DueCallback> rows = await connection.QueryAsync<DueCallback>(ClaimDue, new { now = now.UtcDateTime }, transaction, token);
            if (rows.Count > 0)
            {
                DateTime until = (now + settings.RequestTimeout + TimeSpan.FromSeconds(30)).UtcDateTime;
                await connection.ExecuteAsync(Lease, new { until, ids = rows.Select(row => row.Id).ToArray() }, transaction, token);
            }

            return rows;
        }, cancellationToken);

        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (callback, token) => await SendAsync(callback, settings, token));
        return due.Count;
    }

    private async Task SendAsync(DueCallback callback, CallbackOptions settings, CancellationToken cancellationToken)
    {
        int attempt = callback.Attempts + 1;
        DateTimeOffset startedAt = Time.GetUtcNow();
        long started = Stopwatch.GetTimestamp();
        int? statusCode = null;
        string? error = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, callback.Url)
            {
                Content = new StringContent(callback.Body, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add(SignatureHeader, Sign(settings.SigningSecret, callback.Body));
            request.Headers.Add("X-Bazaar-Delivery", $"{callback.Id}-{attempt}");
            using var timeout = new CancellationTokenSource(settings.RequestTimeout, Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            using HttpResponseMessage response = await httpClientFactory.CreateClient(HttpClientName).SendAsync(request, linked.Token);
            statusCode = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                error = $"the receiver answered {statusCode}";
            }
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            error = exception is OperationCanceledException ? "no answer within " + settings.RequestTimeout : exception.Message;
        }

        bool delivered = error is null;
        bool givenUp = !delivered && attempt >= settings.MaxAttempts;
        DateTimeOffset now = Time.GetUtcNow();
        TimeSpan delay = RetryDelay(settings, attempt);
        await database.InTransactionAsync(async (connection, transaction, token) =>
        {
            await connection.ExecuteAsync(RecordAttempt, new
            {
                id = callback.Id,
                attempt,
                at = startedAt.UtcDateTime,
                statusCode,
                error = error is { Length: > 500 } ? error[..500] : error,
                durationMs = (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            }, transaction, token);
            await connection.ExecuteAsync(Settle, new
            {
                id = callback.Id,
                attempt,
                state = delivered ? "Delivered" : givenUp ? "GaveUp" : "Pending",
                next = (now + delay).UtcDateTime,
                completedAt = delivered || givenUp ? now.UtcDateTime : (DateTime?)null,
            }, transaction, token);
        }, cancellationToken);

        if (givenUp)
        {
            LogGaveUp(Logger, callback.OrderId, attempt, error!);
        }
        else if (!delivered)
        {
            LogRetrying(Logger, callback.OrderId, attempt, error!, delay);
        }
    }

    /// <summary><c>sha256=</c> and the lower-case hex HMAC-SHA256 of the body under the secret.</summary>
    public static string Sign(string secret, string body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));

    internal static TimeSpan RetryDelay(CallbackOptions settings, int failedAttempts)
    {
        double factor = Math.Pow(2, Math.Min(failedAttempts - 1, 30));
        TimeSpan delay = TimeSpan.FromTicks((long)Math.Min(settings.FirstRetryDelay.Ticks * factor, settings.MaxRetryDelay.Ticks));
        return delay;
    }

    private sealed record DueCallback(long Id, string OrderId, string Url, string Body, int Attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Callback for order {OrderId} failed (attempt {Attempt}): {Error}; retrying in {Delay}")]
    private static partial void LogRetrying(ILogger logger, string orderId, int attempt, string error, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Callback for order {OrderId} given up after {Attempts} attempts: {Error}")]
    private static partial void LogGaveUp(ILogger logger, string orderId, int attempts, string error);
}
