// Tests add the servers they need to this empty model (tests/Bazaar.Testing/TestServers.cs).
DistributedApplication.CreateBuilder(args).Build().Run();
