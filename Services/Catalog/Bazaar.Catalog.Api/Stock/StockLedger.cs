using System.Data.Common;
using Bazaar.Catalog.Api.Data;
using Bazaar.Catalog.Api.Events;
using Bazaar.Data;
using Bazaar.Messaging;

namespace Bazaar.Catalog.Api.Stock;

/// <summary>
/// Reservations of stock for the order saga. Every stock change is one conditional UPDATE inside a transaction
/// (<c>available_stock &gt;= @q</c> in its WHERE), so two reservations can never take the same unit; the cache is never involved.
/// </summary>
internal sealed partial class StockLedger(CatalogDatabase database, IOutbox outbox, TimeProvider time, ILogger<StockLedger> logger)
{
    private const string HeaderColumns =
        "SELECT id AS Id, order_id AS OrderId, state AS State, reason AS Reason, expires_at AS ExpiresAt FROM stock_reservations";

    private const string InsertReservationSql = """
        INSERT INTO stock_reservations (id, order_id, state, reason, expires_at, created_at, updated_at)
        VALUES (@ReservationId, @OrderId, @state, @reason, @expiresAt, @now, @now)
        """;

    private static readonly SqlStatement InsertReservation = new("stock_reservations.insert", InsertReservationSql);

    // Each stock change is a conditional UPDATE followed, in the same round trip, by the product's levels after it
    // (for the catalog.stock.changed event) and whether the UPDATE matched (ROW_COUNT() of the statement before).
    private const string LevelsAfter = """
        ;
        SELECT ROW_COUNT() AS Changed, id AS ProductId, available_stock AS AvailableStock, reserved_stock AS ReservedStock
        FROM products WHERE id = @ProductId
        """;

    private const string TakeStockSql = """
        UPDATE products
        SET available_stock = available_stock - @Quantity, reserved_stock = reserved_stock + @Quantity
        WHERE id = @ProductId AND deleted_at IS NULL AND available_stock >= @Quantity
        """ + LevelsAfter;

    private static readonly SqlStatement TakeStock = new("products.reserve_stock", TakeStockSql);

    // A new reservation's header and its first line's stock in one round trip. A repeated id fails the INSERT on its key
    // (a concurrent duplicate waits on that key, then fails), and the server runs nothing of a command after an error.
    private static readonly SqlStatement InsertReservationAndTakeStock = new("stock_reservations.insert_and_reserve_stock",
        InsertReservationSql + ";\n" + TakeStockSql);

    private static readonly SqlStatement SellReserved = new("products.sell_reserved", """
        UPDATE products SET reserved_stock = reserved_stock - @Quantity
        WHERE id = @ProductId AND reserved_stock >= @Quantity
        """ + LevelsAfter);

    private static readonly SqlStatement ReturnReserved = new("products.return_reserved", """
        UPDATE products SET available_stock = available_stock + @Quantity, reserved_stock = reserved_stock - @Quantity
        WHERE id = @ProductId AND reserved_stock >= @Quantity
        """ + LevelsAfter);

    private static readonly SqlStatement SelectAvailable = new("products.select_available",
        "SELECT id, available_stock FROM products WHERE id IN @ids AND deleted_at IS NULL");

    private static readonly SqlStatement SelectReservation = new("stock_reservations.select", HeaderColumns + " WHERE id = @reservationId");

    // The header and its lines in one round trip, locked until the transaction ends (a reservation with no lines has one row of NULLs).
    private static readonly SqlStatement LockReservation = new("stock_reservations.select_with_items_for_update", """
        SELECT r.id AS Id, r.order_id AS OrderId, r.state AS State, r.reason AS Reason, r.expires_at AS ExpiresAt,
               i.product_id AS ProductId, i.quantity AS Quantity
        FROM stock_reservations r LEFT JOIN stock_reservation_items i ON i.reservation_id = r.id
        WHERE r.id = @reservationId ORDER BY i.product_id FOR UPDATE
        """);

    private static readonly SqlStatement SelectLines = new("stock_reservation_items.select", """
        SELECT product_id AS ProductId, quantity AS Quantity FROM stock_reservation_items WHERE reservation_id = @reservationId ORDER BY product_id
        """);

    private static readonly SqlStatement SelectExpired = new("stock_reservations.select_expired", """
        SELECT id FROM stock_reservations WHERE state = 'Reserved' AND expires_at <= @now ORDER BY expires_at LIMIT @limit
        """);

    /// <summary>Reserves every line or none; a repeat of the same reservation id answers what the first call answered.</summary>
    public async Task<StockReservation> ReserveAsync(ValidReservation request, CancellationToken cancellationToken)
    {
        ReserveAttempt attempt = await database.InTransactionAsync(unit => TryReserveAsync(unit, request, cancellationToken), cancellationToken);
        if (attempt.Reservation is not null)
        {
            return attempt.Reservation;
        }

        if (attempt.AlreadyExists)
        {
            return (await GetAsync(request.ReservationId, cancellationToken))!;
        }

        StockReservation? rejected = await database.InTransactionAsync(unit => RecordRejectionAsync(unit, request, cancellationToken), cancellationToken);
        return rejected ?? (await GetAsync(request.ReservationId, cancellationToken))!;
    }

    private async Task<ReserveAttempt> TryReserveAsync(UnitOfWork unit, ValidReservation request, CancellationToken cancellationToken)
    {
        DateTime now = time.GetUtcNow().UtcDateTime;
        DateTime expiresAt = now + request.Ttl;
        // Ascending product order: two reservations of overlapping products lock rows in the same order and cannot deadlock.
        ReservationLine[] lines = [.. request.Items.OrderBy(line => line.ProductId)];
        var levels = new List<StockChanged>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            LevelAfter? taken;
            if (i == 0)
            {
                // The header goes first, with the first line: a concurrent duplicate waits on its key, then sees it and answers from it.
                try
                {
                    taken = await unit.Connection.QuerySingleOrDefaultAsync<LevelAfter>(InsertReservationAndTakeStock, new
                    {
                        request.ReservationId, request.OrderId, state = ReservationStates.Reserved, reason = (string?)null, expiresAt, now,
                        lines[0].ProductId, lines[0].Quantity,
                    }, unit.Transaction, cancellationToken);
                }
                catch (DbException exception) when (TransientErrors.IsUniqueViolation(exception))
                {
                    await unit.RollbackAsync(cancellationToken);
                    return new ReserveAttempt(null, AlreadyExists: true);
                }
            }
            else
            {
                taken = await unit.Connection.QuerySingleOrDefaultAsync<LevelAfter>(TakeStock, lines[i], unit.Transaction, cancellationToken);
            }

            if (taken is not { Changed: 1 })
            {
                await unit.RollbackAsync(cancellationToken);
                return new ReserveAttempt(null, AlreadyExists: false);
            }

            levels.Add(taken.Level);
        }

        StockReservation reservation = new(request.ReservationId, request.OrderId, ReservationStates.Reserved,
            AsUtc(expiresAt), ToLines(request.Items), null);
        SqlBatch batch = WithLines(new SqlBatch("stock_reservations.record_reserved"), request);
        Announce(batch, new StockReservationMade(reservation.ReservationId, reservation.OrderId, request.Items, reservation.ExpiresAt),
            reservation.OrderId, levels);
        await batch.ExecuteAsync(unit.Connection, unit.Transaction, cancellationToken);
        LogReserved(logger, request.ReservationId, request.OrderId, request.Items.Count);
        return new ReserveAttempt(reservation, AlreadyExists: false);
    }

    private async Task<StockReservation?> RecordRejectionAsync(UnitOfWork unit, ValidReservation request, CancellationToken cancellationToken)
    {
        int[] ids = request.Items.Select(line => line.ProductId).ToArray();
        Dictionary<int, int> available = (await unit.Connection.QueryAsync<(int Id, int Available)>(SelectAvailable, new { ids }, unit.Transaction, cancellationToken))
            .ToDictionary(row => row.Id, row => row.Available);
        string reason = "Not enough stock: " + string.Join("; ", request.Items
            .Where(line => available.GetValueOrDefault(line.ProductId) < line.Quantity)
            .Select(line => available.TryGetValue(line.ProductId, out int left)
                ? FormattableString.Invariant($"product {line.ProductId} has {left}, {line.Quantity} asked")
                : FormattableString.Invariant($"product {line.ProductId} does not exist")));

        DateTime now = time.GetUtcNow().UtcDateTime;
        if (!await InsertHeaderAsync(unit, request, ReservationStates.Rejected, reason, now, now, cancellationToken))
        {
            await unit.RollbackAsync(cancellationToken);
            return null;
        }

        StockReservation reservation = new(request.ReservationId, request.OrderId, ReservationStates.Rejected, AsUtc(now), ToLines(request.Items), reason);
        SqlBatch batch = WithLines(new SqlBatch("stock_reservations.record_rejected"), request);
        Announce(batch, new StockReservationRejected(reservation.ReservationId, reservation.OrderId, request.Items, reason), reservation.OrderId, []);
        await batch.ExecuteAsync(unit.Connection, unit.Transaction, cancellationToken);
        LogRejected(logger, request.ReservationId, request.OrderId, reason);
        return reservation;
    }

    /// <summary>Turns held units into sold ones. Committing twice is fine; committing a released or expired reservation is a conflict.</summary>
    public Task<ReservationResult> CommitAsync(string reservationId, CancellationToken cancellationToken) =>
        database.InTransactionAsync(async unit =>
        {
            (Header Header, IReadOnlyList<ReservationLine> Lines)? locked = await LockAsync(unit, reservationId, cancellationToken);
            if (locked is not var (header, lines))
            {
                return ReservationResult.NotFound;
            }

            if (header.State == ReservationStates.Reserved && header.ExpiresAt <= time.GetUtcNow().UtcDateTime)
            {
                return ReservationResult.Conflict(await ReturnUnitsAsync(unit, header, lines, ReservationStates.Expired, cancellationToken));
            }

            if (header.State != ReservationStates.Reserved)
            {
                StockReservation current = header.ToReservation(lines);
                return header.State == ReservationStates.Committed ? ReservationResult.Done(current) : ReservationResult.Conflict(current);
            }

            IReadOnlyList<StockChanged> levels = await ChangeStockAsync(unit, SellReserved, lines, cancellationToken);
            var batch = new SqlBatch("stock_reservations.record_committed");
            StockReservation committed = SetState(batch, header, ReservationStates.Committed, null, lines);
            Announce(batch, new StockReservationCommitted(committed.ReservationId, committed.OrderId, lines), committed.OrderId, levels);
            await batch.ExecuteAsync(unit.Connection, unit.Transaction, cancellationToken);
            return ReservationResult.Done(committed);
        }, cancellationToken);

    /// <summary>Gives held units back. Releasing twice (or a rejected or expired reservation) is fine; a committed one is a conflict.</summary>
    public Task<ReservationResult> ReleaseAsync(string reservationId, CancellationToken cancellationToken) =>
        database.InTransactionAsync(async unit =>
        {
            (Header Header, IReadOnlyList<ReservationLine> Lines)? locked = await LockAsync(unit, reservationId, cancellationToken);
            if (locked is not var (header, lines))
            {
                return ReservationResult.NotFound;
            }

            if (header.State == ReservationStates.Reserved)
            {
                return ReservationResult.Done(await ReturnUnitsAsync(unit, header, lines, ReservationStates.Released, cancellationToken));
            }

            StockReservation current = header.ToReservation(lines);
            return header.State == ReservationStates.Committed ? ReservationResult.Conflict(current) : ReservationResult.Done(current);
        }, cancellationToken);

    /// <summary>Releases one reservation if it is still held and past its expiry (the sweeper's unit of work).</summary>
    public Task<bool> ExpireAsync(string reservationId, CancellationToken cancellationToken) =>
        database.InTransactionAsync(async unit =>
        {
            (Header Header, IReadOnlyList<ReservationLine> Lines)? locked = await LockAsync(unit, reservationId, cancellationToken);
            if (locked is not var (header, lines) || header.State != ReservationStates.Reserved || header.ExpiresAt > time.GetUtcNow().UtcDateTime)
            {
                return false;
            }

            await ReturnUnitsAsync(unit, header, lines, ReservationStates.Expired, cancellationToken);
            LogExpired(logger, reservationId);
            return true;
        }, cancellationToken);

    public async Task<IReadOnlyList<string>> FindExpiredAsync(int limit, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        return await connection.QueryAsync<string>(SelectExpired, new { now = time.GetUtcNow().UtcDateTime, limit }, cancellationToken: cancellationToken);
    }

    public async Task<StockReservation?> GetAsync(string reservationId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        Header? header = await connection.QuerySingleOrDefaultAsync<Header>(SelectReservation, new { reservationId }, cancellationToken: cancellationToken);
        if (header is null)
        {
            return null;
        }

        IReadOnlyList<ReservationLine> lines = await connection.QueryAsync<ReservationLine>(SelectLines, new { reservationId }, cancellationToken: cancellationToken);
        return header.ToReservation(lines);
    }

    private async Task<StockReservation> ReturnUnitsAsync(UnitOfWork unit, Header header, IReadOnlyList<ReservationLine> lines, string state,
        CancellationToken cancellationToken)
    {
        IReadOnlyList<StockChanged> levels = await ChangeStockAsync(unit, ReturnReserved, lines, cancellationToken);
        string? reason = state == ReservationStates.Expired ? "Not committed before its expiry." : null;
        var batch = new SqlBatch("stock_reservations.record_returned");
        StockReservation returned = SetState(batch, header, state, reason, lines);
        Announce(batch, new StockReservationReleased(returned.ReservationId, returned.OrderId, lines, state), returned.OrderId, levels);
        await batch.ExecuteAsync(unit.Connection, unit.Transaction, cancellationToken);
        return returned;
    }

    /// <summary>Applies <paramref name="statement"/> to every line; returns each product's levels after it.</summary>
    private static async Task<IReadOnlyList<StockChanged>> ChangeStockAsync(UnitOfWork unit, SqlStatement statement, IReadOnlyList<ReservationLine> lines,
        CancellationToken cancellationToken)
    {
        var levels = new List<StockChanged>(lines.Count);
        foreach (ReservationLine line in lines)
        {
            LevelAfter? changed = await unit.Connection.QuerySingleOrDefaultAsync<LevelAfter>(statement, line, unit.Transaction, cancellationToken);
            if (changed is not { Changed: 1 })
            {
                // The reservation says these units are held; if the row disagrees, committing would corrupt the ledger.
                throw new InvalidOperationException(FormattableString.Invariant(
                    $"Product {line.ProductId} does not hold the {line.Quantity} reserved units its reservation claims."));
            }

            levels.Add(changed.Level);
        }

        return levels;
    }

    /// <summary>Adds the reservation's move to <paramref name="state"/> to <paramref name="batch"/>; returns the reservation as it will be.</summary>
    private StockReservation SetState(SqlBatch batch, Header header, string state, string? reason, IReadOnlyList<ReservationLine> lines)
    {
        batch.Statement($"UPDATE stock_reservations SET state = {batch.Value(state)}, reason = {batch.Value(reason)}, " +
                        $"updated_at = {batch.Value(time.GetUtcNow().UtcDateTime)} WHERE id = {batch.Value(header.Id)}");
        return (header with { State = state, Reason = reason }).ToReservation(lines);
    }

    /// <summary>False when a reservation with this id exists already (a plain INSERT: INSERT IGNORE's warning trips the driver on MariaDB).</summary>
    private static async Task<bool> InsertHeaderAsync(UnitOfWork unit, ValidReservation request, string state, string? reason,
        DateTime expiresAt, DateTime now, CancellationToken cancellationToken)
    {
        try
        {
            await unit.Connection.ExecuteAsync(InsertReservation,
                new { request.ReservationId, request.OrderId, state, reason, expiresAt, now }, unit.Transaction, cancellationToken);
            return true;
        }
        catch (DbException exception) when (TransientErrors.IsUniqueViolation(exception))
        {
            return false;
        }
    }

    /// <summary>Adds the reservation's lines to <paramref name="batch"/> as one multi-row INSERT.</summary>
    private static SqlBatch WithLines(SqlBatch batch, ValidReservation request)
    {
        batch.Insert("INSERT INTO stock_reservation_items (reservation_id, product_id, quantity) VALUES");
        foreach (ReservationLine line in request.Items)
        {
            batch.Row(request.ReservationId, line.ProductId, line.Quantity);
        }

        return batch.End();
    }

    /// <summary>The reservation and its lines, locked until the transaction ends; null when there is no such reservation.</summary>
    private static async Task<(Header Header, IReadOnlyList<ReservationLine> Lines)?> LockAsync(UnitOfWork unit, string reservationId, CancellationToken cancellationToken)
    {
        IReadOnlyList<LockedRow> rows = await unit.Connection.QueryAsync<LockedRow>(LockReservation, new { reservationId }, unit.Transaction, cancellationToken);
        if (rows.Count == 0)
        {
            return null;
        }

        LockedRow first = rows[0];
        var header = new Header(first.Id, first.OrderId, first.State, first.Reason, first.ExpiresAt);
        IReadOnlyList<ReservationLine> lines = rows.Where(row => row.ProductId is not null)
            .Select(row => new ReservationLine(row.ProductId!.Value, row.Quantity!.Value)).ToList();
        return (header, lines);
    }

    /// <summary>Adds the reservation's event and each touched product's new levels to <paramref name="batch"/>: one outbox insert.</summary>
    private void Announce<TEvent>(SqlBatch batch, TEvent @event, string orderId, IReadOnlyList<StockChanged> levels)
        where TEvent : IIntegrationEvent
    {
        var entries = new List<OutboxEntry>(levels.Count + 1) { OutboxEntry.Capture(@event, orderId, time) };
        entries.AddRange(levels.Select(level => OutboxEntry.Capture(level, timeProvider: time)));
        outbox.Append(batch, entries);
    }

    private static IReadOnlyList<StockReservationLine> ToLines(IEnumerable<ReservationLine> lines) =>
        lines.OrderBy(line => line.ProductId).Select(line => new StockReservationLine(line.ProductId, line.Quantity)).ToList();

    private static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private sealed record ReserveAttempt(StockReservation? Reservation, bool AlreadyExists);

    private sealed record LockedRow(string Id, string OrderId, string State, string? Reason, DateTime ExpiresAt, int? ProductId, int? Quantity);

    private sealed record LevelAfter(long Changed, int ProductId, int AvailableStock, int ReservedStock)
    {
        public StockChanged Level => new(ProductId, AvailableStock, ReservedStock);
    }

    private sealed record Header(string Id, string OrderId, string State, string? Reason, DateTime ExpiresAt)
    {
        public StockReservation ToReservation(IReadOnlyList<ReservationLine> lines) =>
            new(Id, OrderId, State, AsUtc(ExpiresAt), ToLines(lines), Reason);
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Debug, Message = "Reserved stock {ReservationId} for order {OrderId} ({Lines} lines)")]
    private static partial void LogReserved(ILogger logger, string reservationId, string orderId, int lines);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Rejected reservation {ReservationId} for order {OrderId}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string reservationId, string orderId, string reason);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Reservation {ReservationId} expired; its units are available again")]
    private static partial void LogExpired(ILogger logger, string reservationId);
}
