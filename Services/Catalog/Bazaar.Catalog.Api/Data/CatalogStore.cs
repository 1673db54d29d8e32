using System.Data.Common;
using System.Text;
using System.Text.Json.Serialization;
using Bazaar.Catalog.Api.Apis;
using Bazaar.Catalog.Api.Events;
using Bazaar.Catalog.Api.Model;
using Bazaar.Data;
using Bazaar.Messaging;

namespace Bazaar.Catalog.Api.Data;

/// <summary>Products, brands and categories in MySQL: the reads behind the cache and the admin writes.</summary>
internal sealed class CatalogStore(CatalogDatabase database, IOutbox outbox, TimeProvider time)
{
    private const string SelectItem = """
        SELECT p.id AS Id, p.sku AS Sku, p.name AS Name, p.description AS Description, p.price AS Price,
               p.brand_id AS BrandId, b.name AS BrandName, p.category_id AS CategoryId, c.name AS CategoryName,
               p.available_stock AS AvailableStock, p.row_version AS RowVersion, p.created_at AS CreatedAt, p.updated_at AS UpdatedAt
        FROM products p
        JOIN brands b ON b.id = p.brand_id
        JOIN categories c ON c.id = p.category_id
        """;

    private const string StockColumns = "SELECT id AS ProductId, available_stock AS AvailableStock, reserved_stock AS ReservedStock FROM products";

    private static readonly SqlStatement GetItem = new("products.get", SelectItem + " WHERE p.id = @id AND p.deleted_at IS NULL");
    private static readonly SqlStatement GetItemIncludingDeleted = new("products.get_written", SelectItem + " WHERE p.id = @id");
    private static readonly SqlStatement ListBrands = new("brands.list", "SELECT id AS Id, name AS Name, row_version AS RowVersion FROM brands ORDER BY name");
    private static readonly SqlStatement ListCategories = new("categories.list", "SELECT id AS Id, name AS Name, row_version AS RowVersion FROM categories ORDER BY name");
    private static readonly SqlStatement HighestId = new("products.highest_id", "SELECT COALESCE(MAX(id), 0) FROM products");
    private static readonly SqlStatement LastInsertId = new("last_insert_id", "SELECT LAST_INSERT_ID()");
    internal static readonly SqlStatement InsertProduct = new("products.insert", """
        INSERT INTO products (sku, name, description, price, brand_id, category_id, available_stock, reserved_stock, row_version, created_at, updated_at)
        VALUES (@Sku, @Name, @Description, @Price, @BrandId, @CategoryId, @AvailableStock, 0, 1, @now, @now)
        """);
    private static readonly SqlStatement LockPrice = new("products.lock_price", "SELECT price FROM products WHERE id = @id AND deleted_at IS NULL FOR UPDATE");
    private static readonly SqlStatement UpdateProduct = new("products.update", """
        UPDATE products SET name = @Name, description = @Description, price = @Price, brand_id = @BrandId,
               category_id = @CategoryId, row_version = row_version + 1, updated_at = @now
        WHERE id = @id AND row_version = @RowVersion AND deleted_at IS NULL
        """);
    private static readonly SqlStatement LockSku = new("products.lock_sku", "SELECT sku FROM products WHERE id = @id AND deleted_at IS NULL FOR UPDATE");
    private static readonly SqlStatement SoftDelete = new("products.soft_delete",
        "UPDATE products SET deleted_at = @now, updated_at = @now, row_version = row_version + 1 WHERE id = @id");
    private static readonly SqlStatement SetAvailable = new("products.set_available_stock",
        "UPDATE products SET available_stock = @availableStock, updated_at = @now WHERE id = @id AND deleted_at IS NULL");
    private static readonly SqlStatement GetStockLevel = new("products.stock_level", StockColumns + " WHERE id = @id");
    private static readonly SqlStatement GetLiveStockLevel = new("products.stock_level", StockColumns + " WHERE id = @id AND deleted_at IS NULL");
    private static readonly SqlStatement ReferencesExist = new("products.references_exist",
        "SELECT EXISTS (SELECT 1 FROM brands WHERE id = @brandId) AS Brand, EXISTS (SELECT 1 FROM categories WHERE id = @categoryId) AS Category");

    public async Task<CatalogItem?> GetItemAsync(int id, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        ProductRow? row = await connection.QuerySingleOrDefaultAsync<ProductRow>(GetItem, new { id }, cancellationToken: cancellationToken);
        return row?.ToItem();
    }

    public async Task<PaginatedItems<CatalogItem>> ListItemsAsync(CatalogItemsFilter filter, Paging paging, CancellationToken cancellationToken)
    {
        var where = new StringBuilder(" WHERE p.deleted_at IS NULL");
        if (filter.BrandId is not null)
        {
            where.Append(" AND p.brand_id = @BrandId");
        }

        if (filter.CategoryId is not null)
        {
            where.Append(" AND p.category_id = @CategoryId");
        }

        if (filter.Search is not null)
        {
            where.Append(" AND p.name LIKE @Pattern ESCAPE '!'");
        }

        if (filter.MinPrice is not null)
        {
            where.Append(" AND p.price >= @MinPrice");
        }

        if (filter.MaxPrice is not null)
        {
            where.Append(" AND p.price <= @MaxPrice");
        }

        string orderBy = filter.Sort switch
        {
            CatalogSort.Price => " ORDER BY p.price, p.id",
            CatalogSort.PriceDescending => " ORDER BY p.price DESC, p.id DESC",
            CatalogSort.Newest => " ORDER BY p.created_at DESC, p.id DESC",
            _ => " ORDER BY p.name, p.id",
        };

        var parameters = new
        {
            filter.BrandId,
            filter.CategoryId,
            Pattern = filter.Search is null ? null : "%" + EscapeLike(filter.Search) + "%",
            filter.MinPrice,
            filter.MaxPrice,
            Take = paging.Size,
            paging.Skip,
        };

        // The text is assembled from the fixed fragments above only; every value travels as a parameter.
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        long count = await connection.ExecuteScalarAsync<long>(
            new SqlStatement("products.count", "SELECT COUNT(*) FROM products p" + where), parameters, cancellationToken: cancellationToken);
        IReadOnlyList<ProductRow> rows = count <= paging.Skip
            ? []
            : await connection.QueryAsync<ProductRow>(
                new SqlStatement("products.page", SelectItem + where + orderBy + " LIMIT @Take OFFSET @Skip"), parameters, cancellationToken: cancellationToken);
        return paging.Page<CatalogItem>(count, rows.Select(row => row.ToItem()).ToList());
    }

    public async Task<IReadOnlyList<CatalogBrand>> GetBrandsAsync(CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        return await connection.QueryAsync<CatalogBrand>(ListBrands, cancellationToken: cancellationToken);
    }

    public async Task<IReadOnlyList<CatalogCategory>> GetCategoriesAsync(CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        return await connection.QueryAsync<CatalogCategory>(ListCategories, cancellationToken: cancellationToken);
    }

    public async Task<int> GetHighestProductIdAsync(CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<int>(HighestId, cancellationToken: cancellationToken);
    }

    public Task<WriteResult<CatalogItem>> CreateItemAsync(NewProduct product, CancellationToken cancellationToken) =>
        database.InTransactionAsync(async unit =>
        {
            if (await MissingReferenceAsync(unit, product.BrandId, product.CategoryId, cancellationToken) is { } missing)
            {
                return missing.As<CatalogItem>();
            }

            DateTime now = time.GetUtcNow().UtcDateTime;
            try
            {
                await unit.Connection.ExecuteAsync(InsertProduct,
                    new { product.Sku, product.Name, product.Description, product.Price, product.BrandId, product.CategoryId, product.AvailableStock, now },
                    unit.Transaction, cancellationToken);
            }
            catch (DbException exception) when (TransientErrors.IsUniqueViolation(exception))
            {
                await unit.RollbackAsync(cancellationToken);
                return WriteResult<CatalogItem>.Conflict("sku", $"A product with SKU '{product.Sku}' already exists.");
            }

            int id = await unit.Connection.ExecuteScalarAsync<int>(LastInsertId, transaction: unit.Transaction, cancellationToken: cancellationToken);
            CatalogItem item = await ReadItemAsync(unit, id, cancellationToken);
            await outbox.AddAsync(unit.Transaction, new ProductCreated(item.Id, item.Sku, item.Name, item.Price, item.BrandId, item.CategoryId, item.RowVersion),
                cancellationToken: cancellationToken);
            await outbox.AddAsync(unit.Transaction, new StockChanged(id, item.AvailableStock, 0), cancellationToken: cancellationToken);
            return WriteResult<CatalogItem>.Done(item);
        }, cancellationToken);

    public Task<WriteResult<CatalogItem>> UpdateItemAsync(int id, ProductChanges changes, CancellationToken cancellationToken) =>
        database.InTransactionAsync(async unit =>
        {
            if (await MissingReferenceAsync(unit, changes.BrandId, changes.CategoryId, cancellationToken) is { } missing)
            {
                return missing.As<CatalogItem>();
            }

            decimal? oldPrice = await unit.Connection.ExecuteScalarAsync<decimal?>(LockPrice, new { id }, unit.Transaction, cancellationToken);
            if (oldPrice is null)
            {
                return WriteResult<CatalogItem>.NotFound;
            }

            int updated = await unit.Connection.ExecuteAsync(UpdateProduct,
                new { id, changes.Name, changes.Description, changes.Price, changes.BrandId, changes.CategoryId, changes.RowVersion, now = time.GetUtcNow().UtcDateTime },
                unit.Transaction, cancellationToken);
            if (updated == 0)
            {
                return WriteResult<CatalogItem>.Conflict("rowVersion", "The product was changed by someone else since you read it; read it again and reapply your change.");
            }

            CatalogItem item = await ReadItemAsync(unit, id, cancellationToken);
            await outbox.AddAsync(unit.Transaction, new ProductUpdated(item.Id, item.Sku, item.Name, item.Price, item.BrandId, item.CategoryId, item.RowVersion),
                cancellationToken: cancellationToken);
            if (oldPrice.Value != item.Price)
            {
                await outbox.AddAsync(unit.Transaction, new ProductPriceChanged(id, oldPrice.Value, item.Price), cancellationToken: cancellationToken);
            }

            return WriteResult<CatalogItem>.Done(item);
        }, cancellationToken);

    public Task<WriteResult<int>> DeleteItemAsync(int id, CancellationToken cancellationToken) =>
        database.InTransactionAsync(async unit =>
        {
            string? sku = await unit.Connection.ExecuteScalarAsync<string?>(LockSku, new { id }, unit.Transaction, cancellationToken);
            if (sku is null)
            {
                return WriteResult<int>.NotFound;
            }

            // Soft delete: reservations and orders still refer to the row.
            await unit.Connection.ExecuteAsync(SoftDelete, new { id, now = time.GetUtcNow().UtcDateTime }, unit.Transaction, cancellationToken);
            await outbox.AddAsync(unit.Transaction, new ProductDeleted(id, sku), cancellationToken: cancellationToken);
            return WriteResult<int>.Done(id);
        }, cancellationToken);

    public Task<WriteResult<StockLevel>> SetAvailableStockAsync(int id, int availableStock, CancellationToken cancellationToken) =>
        database.InTransactionAsync(async unit =>
        {
            int updated = await unit.Connection.ExecuteAsync(SetAvailable,
                new { id, availableStock, now = time.GetUtcNow().UtcDateTime }, unit.Transaction, cancellationToken);
            if (updated == 0)
            {
                return WriteResult<StockLevel>.NotFound;
            }

            StockLevel level = (await unit.Connection.QuerySingleOrDefaultAsync<StockLevel>(GetStockLevel, new { id }, unit.Transaction, cancellationToken))!;
            await outbox.AddAsync(unit.Transaction, new StockChanged(id, level.AvailableStock, level.ReservedStock), cancellationToken: cancellationToken);
            return WriteResult<StockLevel>.Done(level);
        }, cancellationToken);

    public async Task<StockLevel?> GetStockAsync(int id, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<StockLevel>(GetLiveStockLevel, new { id }, cancellationToken: cancellationToken);
    }

    /// <summary>Creates (id null) or renames a brand or category; returns the ids of products whose shown name changes.</summary>
    public Task<WriteResult<NamedEntityWrite>> SaveNamedAsync(NamedTable table, int? id, string name, int? rowVersion, CancellationToken cancellationToken) =>
        database.InTransactionAsync(async unit =>
        {
            NamedTableStatements sql = table == NamedTable.Brands ? NamedTableStatements.Brands : NamedTableStatements.Categories;
            DateTime now = time.GetUtcNow().UtcDateTime;
            bool taken = await unit.Connection.ExecuteScalarAsync<bool>(sql.NameTaken, new { name, id = id ?? 0 }, unit.Transaction, cancellationToken);
            if (taken)
            {
                return WriteResult<NamedEntityWrite>.Conflict("name", $"The name '{name}' is already used.");
            }

            if (id is null)
            {
                await unit.Connection.ExecuteAsync(sql.Insert, new { name, now }, unit.Transaction, cancellationToken);
                int newId = await unit.Connection.ExecuteScalarAsync<int>(LastInsertId, transaction: unit.Transaction, cancellationToken: cancellationToken);
                return WriteResult<NamedEntityWrite>.Done(new NamedEntityWrite(newId, name, 1, []));
            }

            int? current = await unit.Connection.ExecuteScalarAsync<int?>(sql.LockVersion, new { id }, unit.Transaction, cancellationToken);
            if (current is null)
            {
                return WriteResult<NamedEntityWrite>.NotFound;
            }

            if (current != rowVersion)
            {
                return WriteResult<NamedEntityWrite>.Conflict("rowVersion", "It was changed by someone else since you read it; read it again and reapply your change.");
            }

            await unit.Connection.ExecuteAsync(sql.Rename, new { id, name, now }, unit.Transaction, cancellationToken);
            IReadOnlyList<int> products = await unit.Connection.QueryAsync<int>(sql.ProductsFiled, new { id }, unit.Transaction, cancellationToken);
            return WriteResult<NamedEntityWrite>.Done(new NamedEntityWrite(id.Value, name, current.Value + 1, products));
        }, cancellationToken);

    private static async Task<WriteResult<int>?> MissingReferenceAsync(UnitOfWork unit, int brandId, int categoryId, CancellationToken cancellationToken)
    {
        References found = (await unit.Connection.QuerySingleOrDefaultAsync<References>(ReferencesExist,
            new { brandId, categoryId }, unit.Transaction, cancellationToken))!;
        return found.Brand == 0 ? WriteResult<int>.Invalid("brandId", $"There is no brand {brandId}.")
            : found.Category == 0 ? WriteResult<int>.Invalid("categoryId", $"There is no category {categoryId}.")
            : null;
    }

    private static async Task<CatalogItem> ReadItemAsync(UnitOfWork unit, int id, CancellationToken cancellationToken) =>
        (await unit.Connection.QuerySingleOrDefaultAsync<ProductRow>(GetItemIncludingDeleted, new { id }, unit.Transaction, cancellationToken))!.ToItem();

    private sealed class References
    {
        public long Brand { get; init; }

        public long Category { get; init; }
    }

    /// <summary>The same statements over brands and over categories (the table name is fixed text, never input).</summary>
    private sealed record NamedTableStatements(SqlStatement NameTaken, SqlStatement Insert, SqlStatement LockVersion, SqlStatement Rename, SqlStatement ProductsFiled)
    {
        public static NamedTableStatements Brands { get; } = For("brands", "brand_id");

        public static NamedTableStatements Categories { get; } = For("categories", "category_id");

        private static NamedTableStatements For(string table, string productColumn) => new(
            new($"{table}.name_taken", $"SELECT EXISTS (SELECT 1 FROM {table} WHERE name = @name AND id <> @id)"),
            new($"{table}.insert", $"INSERT INTO {table} (name, row_version, created_at, updated_at) VALUES (@name, 1, @now, @now)"),
            new($"{table}.lock_version", $"SELECT row_version FROM {table} WHERE id = @id FOR UPDATE"),
            new($"{table}.rename", $"UPDATE {table} SET name = @name, row_version = row_version + 1, updated_at = @now WHERE id = @id"),
            new($"{table}.products", $"SELECT id FROM products WHERE {productColumn} = @id AND deleted_at IS NULL"));
    }

    private static string EscapeLike(string text) =>
        text.Replace("!", "!!", StringComparison.Ordinal).Replace("%", "!%", StringComparison.Ordinal).Replace("_", "!_", StringComparison.Ordinal);

    private sealed class ProductRow
    {
        public int Id { get; init; }
        public string Sku { get; init; } = "";
        public string Name { get; init; } = "";
        public string Description { get; init; } = "";
        public decimal Price { get; init; }
        public int BrandId { get; init; }
        public string BrandName { get; init; } = "";
        public int CategoryId { get; init; }
        public string CategoryName { get; init; } = "";
        public int AvailableStock { get; init; }
        public int RowVersion { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime UpdatedAt { get; init; }

        public CatalogItem ToItem() => new(Id, Sku, Name, Description, Price, BrandId, BrandName, CategoryId, CategoryName,
            AvailableStock, RowVersion, AsUtc(CreatedAt), AsUtc(UpdatedAt));

        private static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
    }
}

internal enum NamedTable
{
    Brands,
    Categories,
}

internal sealed record NewProduct(string Sku, string Name, string Description, decimal Price, int BrandId, int CategoryId, int AvailableStock);

internal sealed record ProductChanges(string Name, string Description, decimal Price, int BrandId, int CategoryId, int RowVersion);

internal sealed record NamedEntityWrite(int Id, string Name, int RowVersion, [property: JsonIgnore] IReadOnlyList<int> AffectedProductIds);

internal enum WriteOutcome
{
    Done,
    NotFound,
    Conflict,
    Invalid,
}

/// <summary>The answer of a write: done with a value, or why not (and which request member is to blame).</summary>
internal sealed record WriteResult<T>(WriteOutcome Outcome, T? Value, string? Member, string? Message)
{
    public static WriteResult<T> NotFound { get; } = new(WriteOutcome.NotFound, default, null, null);

    public static WriteResult<T> Done(T value) => new(WriteOutcome.Done, value, null, null);

    public static WriteResult<T> Conflict(string member, string message) => new(WriteOutcome.Conflict, default, member, message);

    public static WriteResult<T> Invalid(string member, string message) => new(WriteOutcome.Invalid, default, member, message);

    public WriteResult<TOther> As<TOther>() => new(Outcome, default, Member, Message);
}
