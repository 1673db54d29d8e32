using Bazaar.Catalog.Api.Data;
using Bazaar.Catalog.Api.Model;
using Bazaar.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Bazaar.ServiceDefaults.Validation;

namespace Bazaar.Catalog.Api.Apis;

/// <summary>Brands and categories: the two lists products are filed under.</summary>
internal static class CatalogTaxonomyApi
{
    public static RouteGroupBuilder MapCatalogTaxonomyApi(this RouteGroupBuilder api)
    {
        api.MapGet("/brands", async ([AsParameters] CatalogServices services, CancellationToken cancellationToken) =>
                TypedResults.Ok(await services.Reads.GetBrandsAsync(cancellationToken)))
            .WithName("ListBrands").WithSummary("List brands").WithDescription("Every brand, by name.");
        api.MapGet("/categories", async ([AsParameters] CatalogServices services, CancellationToken cancellationToken) =>
                TypedResults.Ok(await services.Reads.GetCategoriesAsync(cancellationToken)))
            .WithName("ListCategories").WithSummary("List categories").WithDescription("Every category, by name.");

        MapWrites(api, "/brands", NamedTable.Brands, "Brand");
        MapWrites(api, "/categories", NamedTable.Categories, "Category");
        return api;
    }

    private static void MapWrites(RouteGroupBuilder api, string path, NamedTable table, string noun)
    {
        api.MapPost(path, (HttpRequest request, [AsParameters] CatalogServices services, CancellationToken cancellationToken) =>
                SaveAsync(table, noun, null, request, services, cancellationToken))
            .RequireAuthorization(AuthenticationConventions.Policies.Admin)
            .Accepts<NamedEntityRequest>("application/json")
            .WithName($"Create{noun}").WithSummary($"Create a {noun.ToLowerInvariant()}").WithDescription("Admin only. Names are unique.");
        api.MapPut(path + "/{id}", (string id, HttpRequest request, [AsParameters] CatalogServices services, CancellationToken cancellationToken) =>
                SaveAsync(table, noun, id, request, services, cancellationToken))
            .RequireAuthorization(AuthenticationConventions.Policies.Admin)
            .Accepts<NamedEntityRequest>("application/json")
            .WithName($"Update{noun}").WithSummary($"Rename a {noun.ToLowerInvariant()}")
            .WithDescription("Admin only. Carries the rowVersion the caller read; a stale one is a 409.");
    }

    private static async Task<Results<Ok<NamedEntityWrite>, Created<NamedEntityWrite>, ValidationProblem, ProblemHttpResult>> SaveAsync(
        NamedTable table, string noun, string? rawId, HttpRequest request, CatalogServices services, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        int? id = null;
        if (rawId is not null)
        {
            id = CatalogItemsApi.TryParseId(rawId, out int parsed) && parsed > 0 ? parsed : null;
            if (id is null)
            {
                errors.Add("id", "Must be a positive whole number.");
            }
        }

        NamedEntityRequest? body = await JsonBody.ReadAsync<NamedEntityRequest>(request, errors, cancellationToken);
        string name = body is null ? "" : errors.RequiredText("name", body.Name, 100) ?? "";
        int? rowVersion = rawId is not null && body is not null ? errors.Required("rowVersion", body.RowVersion, 1, int.MaxValue) : null;
        if (errors.Any)
        {
            return CatalogProblems.Invalid(errors);
        }

        WriteResult<NamedEntityWrite> result = await services.Store.SaveNamedAsync(table, id, name, rowVersion, cancellationToken);
        if (result.Outcome != WriteOutcome.Done)
        {
            return CatalogProblems.Failed(result, $"{noun} {rawId}");
        }

        NamedEntityWrite saved = result.Value!;
        await (table == NamedTable.Brands
            ? services.Reads.BrandsChangedAsync(saved.AffectedProductIds, cancellationToken)
            : services.Reads.CategoriesChangedAsync(saved.AffectedProductIds, cancellationToken));
        return id is null ? TypedResults.Created($"/api/catalog{(table == NamedTable.Brands ? "/brands" : "/categories")}/{saved.Id}", saved) : TypedResults.Ok(saved);
    }
}
