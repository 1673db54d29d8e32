using Bazaar.Catalog.Api.Data;
using Bazaar.Catalog.Api.Stock;

namespace Bazaar.Catalog.Api.Apis;

/// <summary>What the catalog's handlers depend on, arriving as one [AsParameters] group.</summary>
internal sealed record CatalogServices(CatalogReads Reads, CatalogStore Store, StockLedger Stock);
