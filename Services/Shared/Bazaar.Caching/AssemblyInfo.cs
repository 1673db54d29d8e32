namespace Bazaar.Caching;
