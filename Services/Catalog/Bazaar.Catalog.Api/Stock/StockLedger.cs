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

    private static readonly SqlStatement InsertReservation = new("stock_reservations.insert", """
        INSERT INTO stock_reservations (id, order_id, state, reason, expires_at, created_at, updated_at)
        VALUES (@ReservationId, @OrderId, @state, @reason, @expiresAt, @now, @now)
        """);

    private static readonly SqlStatement InsertLines = new("stock_reservation_items.insert",
        "INSERT INTO stock_reservation_items (reservation_id, product_id, quantity) VALUES (@ReservationId, @ProductId, @Quantity)");

    private static readonly SqlStatement TakeStock = new("products.reserve_stock", """
        UPDATE products
        SET available_stock = available_stock - @Quantity, reserved_stock = reserved_stock + @Quantity
        WHERE id = @ProductId AND deleted_at IS NULL AND available_stock >= @Quantity
        """);

    private static readonly SqlStatement SellReserved = new("products.sell_reserved", """
        UPDATE products SET reserved_stock = reserved_stock - @Quantity
        WHERE id = @ProductId AND reserved_stock >= @Quantity
        """);

    private static readonly SqlStatement ReturnReserved = new("products.return_reserved", """
        UPDATE products SET available_stock = available_stock + @Quantity, reserved_stock = reserved_stock - @Quantity
        WHERE id = @ProductId AND reserved_stock >= @Quantity
        """);

    private static readonly SqlStatement SelectAvailable = new("products.select_available",
        "SELECT id, available_stock FROM products WHERE id IN @ids AND deleted_at IS NULL");

    private static readonly SqlStatement SelectLevels = new("products.select_stock_levels",
        "SELECT id AS ProductId, available_stock AS AvailableStock, reserved_stock AS ReservedStock FROM products WHERE id IN @ids ORDER BY id");

    private static readonly SqlStatement SelectReservation = new("stock_reservations.select", HeaderColumns + " WHERE id = @reservationId");

    private static readonly SqlStatement LockReservation = new("stock_reservations.select_for_update", HeaderColumns + " WHERE id = @reservationId FOR UPDATE");

    private static readonly SqlStatement SelectLines = new("stock_reservation_items.select", """
        SELECT product_id AS ProductId, quantity AS Quantity FROM stock_reservation_items WHERE reservation_id = @reservationId ORDER BY product_id
        """);

    private static readonly SqlStatement SetState = new("stock_reservations.set_state",
        "UPDATE stock_reservations SET state = @state, reason = @reason, updated_at = @now WHERE id = @id");

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
        // Inserting the header first makes a concurrent duplicate wait on its key, then see it and answer from it.
        if (!await InsertHeaderAsync(unit, request, ReservationStates.Reserved, null, expiresAt, now, cancellationToken))
        {
            await unit.RollbackAsync(cancellationToken);
            return new ReserveAttempt(null, AlreadyExists: true);
        }

        // Ascending product order: two reservations of overlapping products lock rows in the same order and cannot deadlock.
        foreach (ReservationLine line in request.Items.OrderBy(line => line.ProductId))
        {
            int taken = await unit.Connection.ExecuteAsync(TakeStock, line, unit.Transaction, cancellationToken);
            if (taken == 0)
            {
                await unit.RollbackAsync(cancellationToken);
                return new ReserveAttempt(null, AlreadyExists: false);
            }
        }

        await InsertLinesAsync(unit, request, cancellationToken);
        StockReservation reservation = new(request.ReservationId, request.OrderId, ReservationStates.Reserved,
            AsUtc(expiresAt), ToLines(request.Items), null);
        await outbox.AddAsync(unit.Transaction, new StockReservationMade(reservation.ReservationId, reservation.OrderId, request.Items, reservation.ExpiresAt),
            reservation.OrderId, cancellationToken);
        await AnnounceStockAsync(unit, request.Items, cancellationToken);
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

        await InsertLinesAsync(unit, request, cancellationToken);
        StockReservation reservation = new(request.ReservationId, request.OrderId, ReservationStates.Rejected, AsUtc(now), ToLines(request.Items), reason);
        await outbox.AddAsync(unit.Transaction, new StockReservationRejected(reservation.ReservationId, reservation.OrderId, request.Items, reason),
            reservation.OrderId, cancellationToken);
        LogRejected(logger, request.ReservationId, request.OrderId, reason);
        return reservation;
    }

    /// <summary>Turns held units into sold ones. Committing twice is fine; committing a released or expired reservation is a conflict.</summary>
    public Task<ReservationResult> CommitAsync(string reservationId, CancellationToken cancellationToken) =>
        database.InTransactionAsync(async unit =>
        {
            Header? header = await LockHeaderAsync(unit, reservationId, cancellationToken);
            if (header is null)
            {
                return ReservationResult.NotFound;
            }

            if (header.State == ReservationStates.Reserved && header.ExpiresAt <= time.GetUtcNow().UtcDateTime)
            {
                return ReservationResult.Conflict(await ReturnUnitsAsync(unit, header, ReservationStates.Expired, cancellationToken));
            }

            if (header.State != ReservationStates.Reserved)
            {
                StockReservation current = await ReadAsync(unit, header, cancellationToken);
                return header.State == ReservationStates.Committed ? ReservationResult.Done(current) : ReservationResult.Conflict(current);
            }

            IReadOnlyList<ReservationLine> lines = await ReadLinesAsync(unit, reservationId, cancellationToken);
            foreach (ReservationLine line in lines)
            {
                await ChangeStockAsync(unit, SellReserved, line, cancellationToken);
            }

            StockReservation committed = await SetStateAsync(unit, header, ReservationStates.Committed, null, lines, cancellationToken);
            await outbox.AddAsync(unit.Transaction, new StockReservationCommitted(committed.ReservationId, committed.OrderId, lines), committed.OrderId, cancellationToken);
            await AnnounceStockAsync(unit, lines, cancellationToken);
            return ReservationResult.Done(committed);
        }, cancellationToken);

    /// <summary>Gives held units back. Releasing twice (or a rejected or expired reservation) is fine; a committed one is a conflict.</summary>
    public Task<ReservationResult> ReleaseAsync(string reservationId, CancellationToken cancellationToken) =>
        database.InTransactionAsync(async unit =>
        {
            Header? header = await LockHeaderAsync(unit, reservationId, cancellationToken);
            if (header is null)
            {
                return ReservationResult.NotFound;
            }

            if (header.State == ReservationStates.Reserved)
            {
                return ReservationResult.Done(await ReturnUnitsAsync(unit, header, ReservationStates.Released, cancellationToken));
            }

            StockReservation current = await ReadAsync(unit, header, cancellationToken);
            return header.State == ReservationStates.Committed ? ReservationResult.Conflict(current) : ReservationResult.Done(current);
        }, cancellationToken);

    /// <summary>Releases one reservation if it is still held and past its expiry (the sweeper's unit of work).</summary>
    public Task<bool> ExpireAsync(string reservationId, CancellationToken cancellationToken) =>
        database.InTransactionAsync(async unit =>
        {
            Header? header = await LockHeaderAsync(unit, reservationId, cancellationToken);
            if (header is not { State: ReservationStates.Reserved } || header.ExpiresAt > time.GetUtcNow().UtcDateTime)
            {
                return false;
            }

            await ReturnUnitsAsync(unit, header, ReservationStates.Expired, cancellationToken);
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

    private async Task<StockReservation> ReturnUnitsAsync(UnitOfWork unit, Header header, string state, CancellationToken cancellationToken)
    {
        IReadOnlyList<ReservationLine> lines = await ReadLinesAsync(unit, header.Id, cancellationToken);
        foreach (ReservationLine line in lines)
        {
            await ChangeStockAsync(unit, ReturnReserved, line, cancellationToken);
        }

        string? reason = state == ReservationStates.Expired ? "Not committed before its expiry." : null;
        StockReservation returned = await SetStateAsync(unit, header, state, reason, lines, cancellationToken);
        await outbox.AddAsync(unit.Transaction, new StockReservationReleased(returned.ReservationId, returned.OrderId, lines, state), returned.OrderId, cancellationToken);
        await AnnounceStockAsync(unit, lines, cancellationToken);
        return returned;
    }

    private static async Task ChangeStockAsync(UnitOfWork unit, SqlStatement statement, ReservationLine line, CancellationToken cancellationToken)
    {
        int changed = await unit.Connection.ExecuteAsync(statement, line, unit.Transaction, cancellationToken);
        if (changed != 1)
        {
            // The reservation says these units are held; if the row disagrees, committing would corrupt the ledger.
            throw new InvalidOperationException(FormattableString.Invariant(
                $"Product {line.ProductId} does not hold the {line.Quantity} reserved units its reservation claims."));
        }
    }

    private async Task<StockReservation> SetStateAsync(UnitOfWork unit, Header header, string state, string? reason,
        IReadOnlyList<ReservationLine> lines, CancellationToken cancellationToken)
    {
        await unit.Connection.ExecuteAsync(SetState, new { id = header.Id, state, reason, now = time.GetUtcNow().UtcDateTime }, unit.Transaction, cancellationToken);
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

    private static Task InsertLinesAsync(UnitOfWork unit, ValidReservation request, CancellationToken cancellationToken) =>
        unit.Connection.ExecuteAsync(InsertLines,
            request.Items.Select(line => new { request.ReservationId, line.ProductId, line.Quantity }).ToList(), unit.Transaction, cancellationToken);

    private static Task<Header?> LockHeaderAsync(UnitOfWork unit, string reservationId, CancellationToken cancellationToken) =>
        unit.Connection.QuerySingleOrDefaultAsync<Header>(LockReservation, new { reservationId }, unit.Transaction, cancellationToken);

    private static Task<IReadOnlyList<ReservationLine>> ReadLinesAsync(UnitOfWork unit, string reservationId, CancellationToken cancellationToken) =>
        unit.Connection.QueryAsync<ReservationLine>(SelectLines, new { reservationId }, unit.Transaction, cancellationToken);

    private static async Task<StockReservation> ReadAsync(UnitOfWork unit, Header header, CancellationToken cancellationToken) =>
        header.ToReservation(await ReadLinesAsync(unit, header.Id, cancellationToken));

    private async Task AnnounceStockAsync(UnitOfWork unit, IReadOnlyList<ReservationLine> lines, CancellationToken cancellationToken)
    {
        int[] ids = lines.Select(line => line.ProductId).ToArray();
        IReadOnlyList<StockChanged> levels = await unit.Connection.QueryAsync<StockChanged>(SelectLevels, new { ids }, unit.Transaction, cancellationToken);
        foreach (StockChanged level in levels)
        {
            await outbox.AddAsync(unit.Transaction, level, cancellationToken: cancellationToken);
        }
    }

    private static IReadOnlyList<StockReservationLine> ToLines(IEnumerable<ReservationLine> lines) =>
        lines.OrderBy(line => line.ProductId).Select(line => new StockReservationLine(line.ProductId, line.Quantity)).ToList();

    private static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private sealed record ReserveAttempt(StockReservation? Reservation, bool AlreadyExists);

    private sealed record Header(string Id, string OrderId, string State, string? Reason, DateTime ExpiresAt)
    {
        public StockReservation ToReservation(IReadOnlyList<ReservationLine> lines) =>
            new(Id, OrderId, State, AsUtc(ExpiresAt), ToLines(lines), Reason);
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Reserved stock {ReservationId} for order {OrderId} ({Lines} lines)")]
    private static partial void LogReserved(ILogger logger, string reservationId, string orderId, int lines);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Rejected reservation {ReservationId} for order {OrderId}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string reservationId, string orderId, string reason);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Reservation {ReservationId} expired; its units are available again")]
    private static partial void LogExpired(ILogger logger, string reservationId);
}
