using Bazaar.Order.Api.Ordering;

namespace Bazaar.UnitTests.Order;

public sealed class OrderStateMachineTests
{
    [Theory]
    [InlineData(OrderStatus.Submitted, OrderStatus.StockReserved)]
    [InlineData(OrderStatus.Submitted, OrderStatus.Rejected)]
    [InlineData(OrderStatus.Submitted, OrderStatus.Cancelled)]
    [InlineData(OrderStatus.StockReserved, OrderStatus.Paid)]
    [InlineData(OrderStatus.StockReserved, OrderStatus.Cancelled)]
    [InlineData(OrderStatus.Paid, OrderStatus.Shipped)]
    [InlineData(OrderStatus.Shipped, OrderStatus.Delivered)]
    public void The_path_of_an_order_is_allowed(OrderStatus from, OrderStatus to) => Assert.True(OrderStateMachine.CanMove(from, to));

    [Theory]
    [InlineData(OrderStatus.Submitted, OrderStatus.Paid)]
    [InlineData(OrderStatus.StockReserved, OrderStatus.Rejected)]
    [InlineData(OrderStatus.Paid, OrderStatus.Cancelled)]
    [InlineData(OrderStatus.Paid, OrderStatus.Delivered)]
    [InlineData(OrderStatus.Shipped, OrderStatus.Cancelled)]
    [InlineData(OrderStatus.Cancelled, OrderStatus.StockReserved)]
    [InlineData(OrderStatus.Rejected, OrderStatus.Submitted)]
    [InlineData(OrderStatus.Delivered, OrderStatus.Shipped)]
    public void Skipping_a_step_or_leaving_a_final_state_is_refused(OrderStatus from, OrderStatus to) => Assert.False(OrderStateMachine.CanMove(from, to));

    [Fact]
    public void Nothing_moves_an_order_back_to_where_it_was()
    {
        foreach (OrderStatus status in Enum.GetValues<OrderStatus>())
        {
            Assert.False(OrderStateMachine.CanMove(status, status));
            Assert.False(OrderStateMachine.CanMove(status, OrderStatus.Submitted));
        }
    }

    [Fact]
    public void The_saga_ends_at_paid_rejected_or_cancelled_and_the_customer_may_cancel_only_before_payment()
    {
        Assert.Equal([OrderStatus.Paid, OrderStatus.Rejected, OrderStatus.Cancelled], Enum.GetValues<OrderStatus>().Where(OrderStateMachine.EndsSaga));
        Assert.Equal([OrderStatus.Submitted, OrderStatus.StockReserved], Enum.GetValues<OrderStatus>().Where(OrderStateMachine.CustomerMayCancel));
    }

    [Fact]
    public void The_reservation_id_is_derived_from_the_order_id_so_retries_name_the_same_reservation()
    {
        var orderId = Guid.NewGuid();
        Assert.Equal(OrderStateMachine.ReservationIdOf(orderId), OrderStateMachine.ReservationIdOf(Guid.Parse(orderId.ToString())));
        Assert.Matches("^[A-Za-z0-9_:.-]{1,64}$", OrderStateMachine.ReservationIdOf(orderId));
    }
}
