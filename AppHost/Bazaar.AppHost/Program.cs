Console.WriteLine("Bazaar AppHost: the engine lands with the platform issue.");
