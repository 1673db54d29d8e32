namespace Bazaar.IntegrationTests.Order;

/// <summary>One order system per test class; tests stay apart by their own products and buyers.</summary>
public sealed class OrderSystemFixture : IAsyncLifetime
{
    public OrderSystem System { get; private set; } = null!;

    public async Task InitializeAsync() => System = await OrderSystem.StartAsync();

    public async Task DisposeAsync() => await System.DisposeAsync();
}

/// <summary>The order tests run one class at a time: each starts four hosts, and together they would crowd the shared servers.</summary>
[CollectionDefinition(Name)]
public sealed class OrderSystemCollection
{
    public const string Name = "Order system";
}
