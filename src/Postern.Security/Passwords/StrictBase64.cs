namespace Postern.Security.Passwords;

// RFC 4648 §3.5 canonical base64 only. Convert.FromBase64String skips white space and ignores
// non-zero pad bits, so different strings would decode to the same bytes; SCRAM (RFC 5802 §7)
// and our storage format require the one canonical encoding.
internal static class StrictBase64
{
    public static bool TryDecode(string text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length % 4 != 0) return false;
        try
        {
            bytes = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            return false;
        }
        return string.Equals(Convert.ToBase64String(bytes), text, StringComparison.Ordinal);
    }
}
