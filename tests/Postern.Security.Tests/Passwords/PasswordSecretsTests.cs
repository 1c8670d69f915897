using System.Security.Cryptography;
using System.Text;
using Postern.Security.Passwords;
using Postern.Security.Tests.Sasl;

namespace Postern.Security.Tests.Passwords;

public class PasswordSecretsTests
{
    [Fact]
    public void Derive_roundtrips_and_verifies_password_without_storing_it()
    {
        string stored = PasswordSecrets.Derive("correct horse", SaslTestAccounts.FastOptions);
        Assert.StartsWith("psv1 ", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("correct horse", stored, StringComparison.Ordinal);
        var s = PasswordSecrets.Parse(stored);
        Assert.True(s.VerifyPassword("correct horse"));
        Assert.False(s.VerifyPassword("correct horsE"));
        Assert.Equal(stored, s.Serialize());
        Assert.NotNull(s.CramMd5);
    }

    [Fact]
    public void CramMd5_is_optional()
    {
        var s = PasswordSecrets.Create("pw", SaslTestAccounts.FastOptions with { IncludeCramMd5 = false });
        Assert.Null(s.CramMd5);
        Assert.DoesNotContain("cram-md5", s.Serialize(), StringComparison.Ordinal);
        Assert.Null(PasswordSecrets.Parse(s.Serialize()).CramMd5);
    }

    [Theory]
    [InlineData("short")]
    [InlineData("a much longer password that exceeds sixty-four bytes in length, to exercise key hashing")]
    [InlineData("pässwörd")]
    public void CramMd5_stored_state_matches_HMACMD5(string password)
    {
        var secret = PasswordSecrets.Create(password, SaslTestAccounts.FastOptions).CramMd5!;
        foreach (int len in new[] { 0, 1, 55, 56, 63, 64, 65, 200 })
        {
            byte[] msg = RandomNumberGenerator.GetBytes(len);
            Assert.Equal(HMACMD5.HashData(Encoding.UTF8.GetBytes(password), msg), secret.ComputeHmac(msg));
        }
    }

    [Theory]
    [InlineData("", "unknown format version")]
    [InlineData("psv9 x", "unknown format version")]
    [InlineData("psv1", "missing pbkdf2")]
    [InlineData("psv1 pbkdf2-sha256:abc:AAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAA==", "invalid iteration count")]
    [InlineData("psv1 pbkdf2-sha256:1000:!!!:AAAAAAAAAAAAAAAAAAAAAA==", "invalid base64")]
    [InlineData("psv1 bogus:1", "unknown or repeated field")]
    public void Corrupt_strings_give_clear_errors(string input, string expected)
    {
        var e = Assert.Throws<PasswordSecretsFormatException>(() => PasswordSecrets.Parse(input));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.False(PasswordSecrets.TryParse(input, out _, out string? err));
        Assert.NotNull(err);
    }

    [Fact]
    public void Truncated_and_oversized_strings_are_rejected()
    {
        string stored = PasswordSecrets.Derive("pw", SaslTestAccounts.FastOptions);
        // Every truncation either parses (cut exactly at a field boundary) or fails with the format error, never another exception.
        for (int i = 0; i < stored.Length; i++)
            PasswordSecrets.TryParse(stored[..i], out _, out _);
        Assert.False(PasswordSecrets.TryParse(stored[..^3], out _, out _));
        Assert.Throws<PasswordSecretsFormatException>(() => PasswordSecrets.Parse(stored + new string('x', 3000)));
    }

    [Fact]
    public void SaslPrep_maps_spaces_and_normalizes()
    {
        Assert.True(SaslPrep.TryPrepare("I\u00ADX", out string a));
        Assert.Equal("IX", a); // RFC 4013 §3 example: soft hyphen mapped to nothing
        Assert.True(SaslPrep.TryPrepare("\u00AA", out string b));
        Assert.Equal("a", b);
        Assert.True(SaslPrep.TryPrepare("\u2168", out string c));
        Assert.Equal("IX", c);
        Assert.False(SaslPrep.TryPrepare("\u0007", out _));
        var s = PasswordSecrets.Create("a\u00A0b", SaslTestAccounts.FastOptions);
        Assert.True(s.VerifyPassword("a b"));
    }
}
