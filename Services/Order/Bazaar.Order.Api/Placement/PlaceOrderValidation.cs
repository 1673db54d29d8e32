using System.Security.Cryptography;
using System.Text.Json;
using Bazaar.Order.Api.Apis;
using Bazaar.ServiceDefaults.Validation;

namespace Bazaar.Order.Api.Placement;

/// <summary>A placement request that passed validation: lines sorted by product, texts trimmed.</summary>
internal sealed record ValidOrderRequest(IReadOnlyList<RequestedLine> Lines, ShippingAddress ShippingAddress, string PaymentMethod, string? CallbackUrl)
{
    /// <summary>
    /// SHA-256 of the request in canonical form: a retry with the same key must send the same order, and the
    /// canonical form makes "the same" independent of whitespace, member order and line order.
    /// </summary>
    public string Hash()
    {
        byte[] canonical = JsonSerializer.SerializeToUtf8Bytes(this, JsonSerializerOptions.Web);
        return Convert.ToHexStringLower(SHA256.HashData(canonical));
    }
}

internal sealed record RequestedLine(int ProductId, int Quantity);

internal static class PlaceOrderValidation
{
    public const int MaxLines = 50;
    public const int MaxQuantity = 100;
    public const int MaxKeyLength = 100;

    public static string? IdempotencyKey(string? header, ValidationErrors errors)
    {
        if (string.IsNullOrEmpty(header))
        {
            errors.Add("Idempotency-Key", "The Idempotency-Key header is required (1 to 100 characters); send the same key when you retry.");
            return null;
        }

        if (header.Length > MaxKeyLength || header.Any(char.IsControl))
        {
            errors.Add("Idempotency-Key", "The Idempotency-Key header must be 1 to 100 printable characters.");
            return null;
        }

        return header;
    }

    public static ValidOrderRequest? Validate(PlaceOrderRequest body, ValidationErrors errors)
    {
        var lines = new List<RequestedLine>();
        var seen = new HashSet<int>();
        if (body.Items is not { Count: > 0 and <= MaxLines })
        {
            errors.Add("items", $"Give between 1 and {MaxLines} lines.");
        }
        else
        {
            for (int i = 0; i < body.Items.Count; i++)
            {
                PlaceOrderItem? item = body.Items[i];
                string prefix = $"items[{i}]";
                if (item is null)
                {
                    errors.Add(prefix, "Is required.");
                    continue;
                }

                if (item.ProductId is not > 0)
                {
                    errors.Add(prefix + ".productId", "Must be a positive product id.");
                }
                else if (!seen.Add(item.ProductId.Value))
                {
                    errors.Add(prefix + ".productId", "Each product may appear once; add the quantities together.");
                }

                if (item.Quantity is not (>= 1 and <= MaxQuantity))
                {
                    errors.Add(prefix + ".quantity", $"Must be between 1 and {MaxQuantity}.");
                }

                if (item.ProductId is > 0 && item.Quantity is >= 1 and <= MaxQuantity)
                {
                    lines.Add(new RequestedLine(item.ProductId.Value, item.Quantity.Value));
                }
            }
        }

        ShippingAddress? address = null;
        if (body.ShippingAddress is not { } given)
        {
            errors.Add("shippingAddress", "Is required.");
        }
        else
        {
            address = new ShippingAddress(
                errors.RequiredText("shippingAddress.name", given.Name, 200) ?? "",
                errors.RequiredText("shippingAddress.line1", given.Line1, 200) ?? "",
                errors.OptionalText("shippingAddress.line2", given.Line2, 200) is { Length: > 0 } line2 ? line2 : null,
                errors.RequiredText("shippingAddress.city", given.City, 100) ?? "",
                errors.RequiredText("shippingAddress.postalCode", given.PostalCode, 20) ?? "",
                errors.RequiredText("shippingAddress.country", given.Country, 60) ?? "");
        }

        string paymentMethod = errors.RequiredText("paymentMethod", body.PaymentMethod, 50) ?? "";
        string? callbackUrl = null;
        if (!string.IsNullOrWhiteSpace(body.CallbackUrl))
        {
            callbackUrl = body.CallbackUrl.Trim();
            if (callbackUrl.Length > 2000
                || !Uri.TryCreate(callbackUrl, UriKind.Absolute, out Uri? uri)
                || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add("callbackUrl", "Must be an absolute http or https URL of at most 2000 characters.");
            }
        }

        return errors.Any || address is null
            ? null
            : new ValidOrderRequest(lines.OrderBy(line => line.ProductId).ToList(), address, paymentMethod, callbackUrl);
    }
}
