namespace Bazaar.Auth.Api.Accounts;

internal static class PasswordPolicy
{
    public const int MinimumLength = 10;
    public const int MaximumLength = 256;

    // The most common leaked passwords of 10+ characters (public breach-frequency lists); the length rule covers the rest.
    private static readonly HashSet<string> CommonPasswords = new(StringComparer.OrdinalIgnoreCase)
    {
        "1234567890", "12345678910", "0123456789", "0987654321", "1111111111", "0000000000", "1234512345",
        "123456789a", "a123456789", "1q2w3e4r5t", "1qaz2wsx3edc", "qwertyuiop", "asdfghjkl;", "zxcvbnm123",
        "qwerty1234", "qwerty12345", "qwertyuiop123", "1234qwerty", "password1", "password12", "password123",
        "password1234", "password12345", "passw0rd123", "p@ssw0rd123", "p@ssword123", "iloveyou12", "iloveyou123",
        "princess123", "sunshine123", "football123", "baseball123", "superman123", "basketball", "letmein123",
        "welcome123", "welcome1234", "administrator", "admin12345", "admin123456", "changeme123", "monkey12345",
        "dragon12345", "trustno1234", "abc1234567", "abcdefghij", "abcd123456", "aaaaaaaaaa", "abcdefg123",
        "michael123", "charlie123", "starwars123", "whatever123", "computer123", "internet123", "123qweasdzxc",
        "q1w2e3r4t5", "1q2w3e4r5t6y", "zaq12wsxcde3", "mustang123", "shadow1234", "master1234", "jennifer123",
        "liverpool1", "chocolate1", "butterfly1", "password!1", "bazaar1234", "bazaarshop",
    };

    /// <summary>The reason <paramref name="password"/> is refused, or null when it is acceptable.</summary>
    public static string? Check(string? password, string? email)
    {
        if (string.IsNullOrEmpty(password) || password.Length < MinimumLength)
        {
            return $"Password must be at least {MinimumLength} characters.";
        }

        if (password.Length > MaximumLength)
        {
            return $"Password must be at most {MaximumLength} characters.";
        }

        if (CommonPasswords.Contains(password))
        {
            return "Password is too common.";
        }

        if (email is not null && string.Equals(password.Trim(), email.Trim(), StringComparison.OrdinalIgnoreCase))
        {
            return "Password must not be the email address.";
        }

        return null;
    }
}
