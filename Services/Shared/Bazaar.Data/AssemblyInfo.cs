namespace Bazaar.Data;
