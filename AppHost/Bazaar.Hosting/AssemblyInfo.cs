namespace Bazaar.Hosting;
