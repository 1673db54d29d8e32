using System.Diagnostics.CodeAnalysis;
using System.Net.Mail;

namespace Bazaar.Auth.Api.Accounts;

internal static class EmailAddress
{
    private const int MaxLength = 254;

    /// <summary>
    /// Trims and lower-cases an address (the whole address: mailbox case-sensitivity is allowed by RFC 5321 but no
    /// provider uses it, and two accounts differing by case are a support nightmare), or says why it is not one.
    /// </summary>
    public static bool TryNormalize(string? input, [NotNullWhen(true)] out string? normalized, [NotNullWhen(false)] out string? error)
    {
        normalized = null;
        string trimmed = input?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            error = "Email is required.";
            return false;
        }

        if (trimmed.Length > MaxLength)
        {
            error = $"Email must be at most {MaxLength} characters.";
            return false;
        }

        int at = trimmed.LastIndexOf('@');
        bool shapeIsValid = at > 0
            && at < trimmed.Length - 1
            && trimmed.IndexOf('@') == at
            && !trimmed.Any(char.IsWhiteSpace)
            && trimmed[(at + 1)..].Contains('.', StringComparison.Ordinal)
            && !trimmed.EndsWith('.')
            && MailAddress.TryCreate(trimmed, out MailAddress? parsed)
            && parsed.Address == trimmed;
        if (!shapeIsValid)
        {
            error = "Email is not a valid address.";
            return false;
        }

        normalized = trimmed.ToLowerInvariant();
        error = null;
        return true;
    }
}
