namespace Bazaar.Catalog.Api.Apis;

/// <summary>One page of a longer list, with the total count so a client can draw its pager.</summary>
public sealed record PaginatedItems<T>(int PageIndex, int PageSize, long Count, IReadOnlyList<T> Data);
