using Microsoft.AspNetCore.Mvc;
using Bazaar.ServiceDefaults.Validation;

namespace Bazaar.Catalog.Api.Apis;

/// <summary>The paging part of every list query, validated in one place.</summary>
public sealed record PaginationRequest(
    [property: FromQuery(Name = "pageIndex")] string? PageIndex = null,
    [property: FromQuery(Name = "pageSize")] string? PageSize = null)
{
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;

    // Deep pages cost the database a long scan and no shopper reaches them.
    public const int MaxPageIndex = 10_000;

    internal Paging Validate(ValidationErrors errors) => new(
        errors.OptionalInt("pageIndex", PageIndex, 0, MaxPageIndex) ?? 0,
        errors.OptionalInt("pageSize", PageSize, 1, MaxPageSize) ?? DefaultPageSize);
}

/// <summary>Validated paging: <see cref="Skip"/> rows then <see cref="Size"/>.</summary>
internal readonly record struct Paging(int Index, int Size)
{
    public int Skip => Index * Size;

    public PaginatedItems<T> Page<T>(long count, IReadOnlyList<T> data) => new(Index, Size, count, data);
}
