using System.Globalization;
using Bazaar.Catalog.Api.Data;
using Bazaar.Catalog.Api.Model;
using Bazaar.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Bazaar.ServiceDefaults.Validation;

namespace Bazaar.Catalog.Api.Apis;

/// <summary>Products: cached reads for everyone, writes for admins.</summary>
internal static class CatalogItemsApi
{
    public const int MaxIdsPerLookup = 100;

    public static RouteGroupBuilder MapCatalogItemsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/items", ListItemsAsync)
            .WithName("ListItems").WithSummary("List products")
            .WithDescription("One page of products, filtered by brand, category, name search and price range, sorted by name, price, -price or newest.");
        api.MapGet("/items/by", GetItemsByIdsAsync)
            .WithName("GetItemsByIds").WithSummary("Get several products")
            .WithDescription("The products with the given comma-separated ids (at most 100); unknown ids are left out.");
        api.MapGet("/items/{id}", GetItemAsync)
            .WithName("GetItem").WithSummary("Get a product")
            .WithDescription("One product by id; 404 when there is none.");

        api.MapPost("/items", CreateItemAsync).RequireAuthorization(AuthenticationConventions.Policies.Admin)
            .Accepts<CreateCatalogItemRequest>("application/json")
            .WithName("CreateItem").WithSummary("Create a product").WithDescription("Admin only. The SKU must be unique.");
        api.MapPut("/items/{id}", UpdateItemAsync).RequireAuthorization(AuthenticationConventions.Policies.Admin)
            .Accepts<UpdateCatalogItemRequest>("application/json")
            .WithName("UpdateItem").WithSummary("Update a product")
            .WithDescription("Admin only. Carries the rowVersion the caller read; a stale one is a 409.");
        api.MapDelete("/items/{id}", DeleteItemAsync).RequireAuthorization(AuthenticationConventions.Policies.Admin)
            .WithName("DeleteItem").WithSummary("Delete a product").WithDescription("Admin only.");
        api.MapGet("/items/{id}/stock", GetStockAsync).RequireAuthorization(AuthenticationConventions.Policies.Admin)
            .WithName("GetStock").WithSummary("Read a product's stock")
            .WithDescription("Admin only. Available and reserved units, read from the database (never cached).");
        api.MapPut("/items/{id}/stock", SetStockAsync).RequireAuthorization(AuthenticationConventions.Policies.Admin)
            .Accepts<SetStockRequest>("application/json")
            .WithName("SetStock").WithSummary("Set a product's available stock").WithDescription("Admin only. Reserved units are untouched.");
        return api;
    }

    public static async Task<Results<Ok<PaginatedItems<CatalogItem>>, ValidationProblem>> ListItemsAsync(
        [AsParameters] PaginationRequest pagination,
        [AsParameters] CatalogItemsRequest request,
        [AsParameters] CatalogServices services,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        Paging paging = pagination.Validate(errors);
        CatalogItemsFilter filter = request.Validate(errors);
        if (errors.Any)
        {
            return CatalogProblems.Invalid(errors);
        }

        return TypedResults.Ok(await services.Reads.ListItemsAsync(filter, paging, cancellationToken));
    }

    public static async Task<Results<Ok<IReadOnlyList<CatalogItem>>, ValidationProblem>> GetItemsByIdsAsync(
        string? ids,
        [AsParameters] CatalogServices services,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        List<int> parsed = ParseIds(ids, errors);
        if (errors.Any)
        {
            return CatalogProblems.Invalid(errors);
        }

        var items = new List<CatalogItem>(parsed.Count);
        foreach (int id in parsed)
        {
            if (await services.Reads.GetItemAsync(id, cancellationToken) is { } item)
            {
                items.Add(item);
            }
        }

        return TypedResults.Ok<IReadOnlyList<CatalogItem>>(items);
    }

    public static async ValueTask<Results<Ok<CatalogItem>, ValidationProblem, ProblemHttpResult>> GetItemAsync(
        string id,
        [AsParameters] CatalogServices services,
        CancellationToken cancellationToken)
    {
        if (!TryParseId(id, out int productId))
        {
            return CatalogProblems.Invalid("id", "Must be a whole number.");
        }

        CatalogItem? item = await services.Reads.GetItemAsync(productId, cancellationToken);
        return item is null ? CatalogProblems.NotFound($"Product {id}") : TypedResults.Ok(item);
    }

    public static async Task<Results<Created<CatalogItem>, ValidationProblem, ProblemHttpResult>> CreateItemAsync(
        HttpRequest httpRequest,
        [AsParameters] CatalogServices services,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        CreateCatalogItemRequest? body = await JsonBody.ReadAsync<CreateCatalogItemRequest>(httpRequest, errors, cancellationToken);
        if (body is null)
        {
            return CatalogProblems.Invalid(errors);
        }

        var product = new NewProduct(
            errors.RequiredText("sku", body.Sku, 64) ?? "",
            errors.RequiredText("name", body.Name, 200) ?? "",
            errors.OptionalText("description", body.Description, 2000) ?? "",
            errors.Price("price", body.Price),
            errors.Required("brandId", body.BrandId, 1, int.MaxValue),
            errors.Required("categoryId", body.CategoryId, 1, int.MaxValue),
            errors.Required("availableStock", body.AvailableStock ?? 0, 0, int.MaxValue));
        if (errors.Any)
        {
            return CatalogProblems.Invalid(errors);
        }

        WriteResult<CatalogItem> result = await services.Store.CreateItemAsync(product, cancellationToken);
        if (result.Outcome != WriteOutcome.Done)
        {
            return CatalogProblems.Failed(result, "The product");
        }

        await services.Reads.ItemChangedAsync(result.Value!.Id, cancellationToken);
        return TypedResults.Created($"/api/catalog/items/{result.Value.Id}", result.Value);
    }

    public static async Task<Results<Ok<CatalogItem>, ValidationProblem, ProblemHttpResult>> UpdateItemAsync(
        string id,
        HttpRequest httpRequest,
        [AsParameters] CatalogServices services,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        int productId = ValidateId(id, errors);
        UpdateCatalogItemRequest? body = await JsonBody.ReadAsync<UpdateCatalogItemRequest>(httpRequest, errors, cancellationToken);
        if (body is null)
        {
            return CatalogProblems.Invalid(errors);
        }

        var changes = new ProductChanges(
            errors.RequiredText("name", body.Name, 200) ?? "",
            errors.OptionalText("description", body.Description, 2000) ?? "",
            errors.Price("price", body.Price),
            errors.Required("brandId", body.BrandId, 1, int.MaxValue),
            errors.Required("categoryId", body.CategoryId, 1, int.MaxValue),
            errors.Required("rowVersion", body.RowVersion, 1, int.MaxValue));
        if (errors.Any)
        {
            return CatalogProblems.Invalid(errors);
        }

        WriteResult<CatalogItem> result = await services.Store.UpdateItemAsync(productId, changes, cancellationToken);
        if (await FailedOrAnnouncedAsync(result, productId, services, cancellationToken) is { } failed)
        {
            return failed;
        }

        return TypedResults.Ok(result.Value!);
    }

    public static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DeleteItemAsync(
        string id,
        [AsParameters] CatalogServices services,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        int productId = ValidateId(id, errors);
        if (errors.Any)
        {
            return CatalogProblems.Invalid(errors);
        }

        WriteResult<int> result = await services.Store.DeleteItemAsync(productId, cancellationToken);
        if (await FailedOrAnnouncedAsync(result, productId, services, cancellationToken) is { } failed)
        {
            return failed;
        }

        return TypedResults.NoContent();
    }

    public static async Task<Results<Ok<StockLevel>, ValidationProblem, ProblemHttpResult>> GetStockAsync(
        string id,
        [AsParameters] CatalogServices services,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        int productId = ValidateId(id, errors);
        if (errors.Any)
        {
            return CatalogProblems.Invalid(errors);
        }

        StockLevel? level = await services.Store.GetStockAsync(productId, cancellationToken);
        return level is null ? CatalogProblems.NotFound($"Product {productId}") : TypedResults.Ok(level);
    }

    public static async Task<Results<Ok<StockLevel>, ValidationProblem, ProblemHttpResult>> SetStockAsync(
        string id,
        HttpRequest httpRequest,
        [AsParameters] CatalogServices services,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        int productId = ValidateId(id, errors);
        SetStockRequest? body = await JsonBody.ReadAsync<SetStockRequest>(httpRequest, errors, cancellationToken);
        int available = body is null ? 0 : errors.Required("availableStock", body.AvailableStock, 0, int.MaxValue);
        if (errors.Any)
        {
            return CatalogProblems.Invalid(errors);
        }

        WriteResult<StockLevel> result = await services.Store.SetAvailableStockAsync(productId, available, cancellationToken);
        if (await FailedOrAnnouncedAsync(result, productId, services, cancellationToken) is { } failed)
        {
            return failed;
        }

        return TypedResults.Ok(result.Value!);
    }

    /// <summary>A write that did not happen becomes its problem; one that did drops the product from every cache.</summary>
    private static async Task<ProblemHttpResult?> FailedOrAnnouncedAsync<T>(
        WriteResult<T> result, int productId, CatalogServices services, CancellationToken cancellationToken)
    {
        if (result.Outcome != WriteOutcome.Done)
        {
            return CatalogProblems.Failed(result, $"Product {productId}");
        }

        await services.Reads.ItemChangedAsync(productId, cancellationToken);
        return null;
    }

    internal static bool TryParseId(string raw, out int id) =>
        int.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out id);

    /// <summary>For writes, where there is no "impossible id" shortcut: the id must be a positive whole number.</summary>
    private static int ValidateId(string raw, ValidationErrors errors)
    {
        if (!TryParseId(raw, out int id) || id <= 0)
        {
            errors.Add("id", "Must be a positive whole number.");
        }

        return id;
    }

    private static List<int> ParseIds(string? raw, ValidationErrors errors)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            errors.Add("ids", "Give at least one id, comma-separated: ids=1,2,3.");
            return [];
        }

        string[] parts = raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > MaxIdsPerLookup)
        {
            errors.Add("ids", $"At most {MaxIdsPerLookup} ids per request.");
            return [];
        }

        var ids = new List<int>(parts.Length);
        foreach (string part in parts)
        {
            if (!TryParseId(part, out int id))
            {
                errors.Add("ids", $"'{(part.Length > 20 ? part[..20] + "…" : part)}' is not a whole number.");
                return [];
            }

            if (!ids.Contains(id))
            {
                ids.Add(id);
            }
        }

        if (ids.Count == 0)
        {
            errors.Add("ids", "Give at least one id, comma-separated: ids=1,2,3.");
        }

        return ids;
    }
}
