using System.Text;

namespace Postern.Mail;

/// <summary>
/// Maps MIME charset names (RFC 2978 registry names and common aliases) to .NET encodings,
/// including legacy code pages through <c>System.Text.Encoding.CodePages</c>.
/// </summary>
public static class Charsets
{
    static Charsets()
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
    }

    /// <summary>UTF-8 that replaces invalid sequences instead of throwing.</summary>
    public static Encoding Utf8 { get; } = new UTF8Encoding(false, false);

    /// <summary>ISO-8859-1, the fallback for 8-bit text of unknown or unsupported charset.</summary>
    public static Encoding Latin1 { get; } = Encoding.Latin1;

    /// <summary>
    /// The encoding for a charset name, or null when unknown. "us-ascii" maps to UTF-8 and
    /// "iso-8859-1" to windows-1252 because mail labelled so routinely carries those bytes
    /// (the WHATWG Encoding Standard makes the same choice).
    /// </summary>
    public static Encoding? Find(string? charset)
    {
        if (string.IsNullOrWhiteSpace(charset)) return null;
        var name = charset.Trim().Trim('"').ToLowerInvariant();
        // RFC 2231 §5: a language suffix may follow the charset in encoded words.
        int star = name.IndexOf('*', StringComparison.Ordinal);
        if (star >= 0) name = name[..star];
        switch (name)
        {
            case "utf-8" or "utf8" or "unicode-1-1-utf-8": return Utf8;
            case "us-ascii" or "ascii" or "ansi_x3.4-1968" or "iso646-us" or "us": return Utf8;
            case "iso-8859-1" or "latin1" or "latin-1" or "iso_8859-1" or "iso8859-1": return Encoding.GetEncoding(1252);
            case "ks_c_5601-1987" or "ksc5601" or "euc-kr": return Encoding.GetEncoding(949);
            case "gb2312" or "gbk" or "x-gbk" or "cp936": return Encoding.GetEncoding(936);
            case "tis-620" or "iso-8859-11": return Encoding.GetEncoding(874);
            case "utf-7": return Encoding.UTF8; // UTF-7 is obsolete and unsafe; decode as UTF-8.
        }
        if (name.StartsWith("iso8859-", StringComparison.Ordinal)) name = "iso-8859-" + name[8..];
        if (name.StartsWith("cp", StringComparison.Ordinal) && int.TryParse(name.AsSpan(2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int cp))
            name = "windows-" + cp.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (Cache.TryGetValue(name, out var cached)) return cached;
        Encoding? found;
        try
        {
            found = Encoding.GetEncoding(name);
        }
        catch (ArgumentException)
        {
            found = null;
        }
        // Lookups (and failures, which throw) are costly; names come from input, so the cache is bounded.
        if (Cache.Count < MaxCachedNames) Cache.TryAdd(name, found);
        return found;
    }

    private const int MaxCachedNames = 512;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Encoding?> Cache = new(StringComparer.Ordinal);

    /// <summary>
    /// Decodes bytes in the named charset. Unknown charsets fall back to UTF-8 when the bytes
    /// are valid UTF-8 and to windows-1252 otherwise; decoding never throws.
    /// </summary>
    public static string Decode(ReadOnlySpan<byte> bytes, string? charset)
    {
        var enc = Find(charset);
        if (enc is null || ReferenceEquals(enc, Utf8)) return DecodeUtf8OrLatin(bytes);
        try
        {
            return enc.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return DecodeUtf8OrLatin(bytes);
        }
    }

    /// <summary>Whether <see cref="Decode"/> reads text of <paramref name="charset"/> as UTF-8 (UTF-8 itself, or no charset it knows).</summary>
    public static bool DecodesAsUtf8(string? charset) => Find(charset) is not { } enc || ReferenceEquals(enc, Utf8);

    /// <summary>UTF-8 if valid (RFC 6532), otherwise windows-1252 so that 8-bit garbage stays readable.</summary>
    public static string DecodeUtf8OrLatin(ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes)) return Encoding.UTF8.GetString(bytes);
        return Encoding.GetEncoding(1252).GetString(bytes);
    }

    /// <summary>True when the bytes are all 7-bit.</summary>
    public static bool IsAscii(ReadOnlySpan<byte> bytes) => System.Text.Ascii.IsValid(bytes);
}
