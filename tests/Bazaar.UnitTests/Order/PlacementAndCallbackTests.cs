using System.Security.Cryptography;
using System.Text;
using Bazaar.Order.Api.Apis;
using Bazaar.Order.Api.Placement;
using Bazaar.Worker.Callbacks;
using Bazaar.ServiceDefaults.Validation;

namespace Bazaar.UnitTests.Order;

public sealed class PlacementAndCallbackTests
{
    private static readonly ShippingAddress Address = new("Ada", "1 Street", null, "Town", "1234", "NL");

    [Fact]
    public void The_same_order_in_another_line_order_or_spacing_hashes_the_same_and_another_order_does_not()
    {
        ValidOrderRequest a = Valid(new PlaceOrderItem(2, 1), new PlaceOrderItem(1, 3));
        ValidOrderRequest b = Valid(new PlaceOrderItem(1, 3), new PlaceOrderItem(2, 1));
        ValidOrderRequest c = Valid(new PlaceOrderItem(1, 4), new PlaceOrderItem(2, 1));

        Assert.Equal(a.Hash(), b.Hash());
        Assert.NotEqual(a.Hash(), c.Hash());
    }

    [Fact]
    public void A_missing_key_or_an_overlong_one_is_refused_naming_the_header()
    {
        var errors = new ValidationErrors();
        Assert.Null(PlaceOrderValidation.IdempotencyKey(null, errors));
        Assert.Null(PlaceOrderValidation.IdempotencyKey(new string('k', 101), errors));
        Assert.Equal("k", PlaceOrderValidation.IdempotencyKey("k", new ValidationErrors()));
        Assert.Equal(["Idempotency-Key"], errors.ToDictionary().Keys);
    }

    [Fact]
    public void The_callback_signature_is_the_hex_HMAC_SHA256_of_the_body()
    {
        const string Body = """{"orderId":"x","status":"Paid"}""";
        string expected = Convert.ToHexStringLower(HMACSHA256.HashData("secret-secret-secret"u8.ToArray(), Encoding.UTF8.GetBytes(Body)));
        Assert.Equal("sha256=" + expected, CallbackDispatcher.Sign("secret-secret-secret", Body));
    }

    [Fact]
    public void Callback_retries_double_and_stop_growing_at_the_maximum()
    {
        var options = new CallbackOptions { FirstRetryDelay = TimeSpan.FromSeconds(2), MaxRetryDelay = TimeSpan.FromSeconds(10) };
        Assert.Equal(
            [2, 4, 8, 10, 10],
            Enumerable.Range(1, 5).Select(attempt => CallbackDispatcher.RetryDelay(options, attempt).TotalSeconds));
    }

    private static ValidOrderRequest Valid(params PlaceOrderItem[] items)
    {
        var errors = new ValidationErrors();
        ValidOrderRequest? valid = PlaceOrderValidation.Validate(new PlaceOrderRequest(items, Address, "card", null), errors);
        Assert.False(errors.Any);
        return valid!;
    }
}
