namespace Bazaar.Testing;
