using Bazaar.Auth.Api.Accounts;

namespace Bazaar.UnitTests.Auth;

public sealed class AccountRulesTests
{
    [Theory]
    [InlineData("  Alice@Example.COM ", "alice@example.com")]
    [InlineData("o'brien+shop@mail.example.org", "o'brien+shop@mail.example.org")]
    public void An_email_is_trimmed_and_lower_cased(string input, string expected)
    {
        Assert.True(EmailAddress.TryNormalize(input, out string? normalized, out _));
        Assert.Equal(expected, normalized);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("plainaddress")]
    [InlineData("two@@example.com")]
    [InlineData("a@b@example.com")]
    [InlineData("no-domain-dot@localhost")]
    [InlineData("space in@example.com")]
    [InlineData("trailing-dot@example.com.")]
    [InlineData("Display Name <someone@example.com>")]
    public void An_address_that_is_not_one_is_refused_with_a_reason(string? input)
    {
        Assert.False(EmailAddress.TryNormalize(input, out _, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void An_address_longer_than_254_characters_is_refused()
    {
        Assert.False(EmailAddress.TryNormalize(new string('a', 250) + "@example.com", out _, out _));
    }

    [Theory]
    [InlineData("short")]
    [InlineData("123456789")]
    [InlineData("password123")]
    [InlineData("QWERTYUIOP")]
    [InlineData("1234567890")]
    public void A_short_or_common_password_is_refused(string password)
    {
        Assert.NotNull(PasswordPolicy.Check(password, "someone@example.com"));
    }

    [Fact]
    public void A_password_equal_to_the_email_is_refused()
    {
        Assert.NotNull(PasswordPolicy.Check("Someone@Example.com", "someone@example.com"));
    }

    [Theory]
    [InlineData("correct horse battery staple")]
    [InlineData("Tr0ub4dor&3xyz")]
    public void A_long_uncommon_password_is_accepted(string password)
    {
        Assert.Null(PasswordPolicy.Check(password, "someone@example.com"));
    }
}
