using System.Globalization;
using System.Text;

namespace Postern.Security.Passwords;

/// <summary>
/// SASLprep (RFC 4013) string preparation of passwords and user names for SCRAM and PLAIN.
/// Implements the mapping (RFC 4013 §2.1), NFKC normalisation (§2.2) and the prohibited
/// output check (§2.3); the bidirectional check (§2.4) is approximated by rejecting strings that
/// mix right-to-left and left-to-right letters.
/// </summary>
public static class SaslPrep
{
    /// <summary>Prepares <paramref name="value"/>; returns false when it contains prohibited characters.</summary>
    public static bool TryPrepare(string value, out string prepared)
    {
        prepared = value;
        // Fast path: printable ASCII maps to itself under every step.
        bool ascii = true;
        foreach (char c in value)
        {
            if (c < 0x20 || c >= 0x7f) { ascii = false; break; }
        }
        if (ascii) return true;

        var mapped = new StringBuilder(value.Length);
        foreach (char c in value)
        {
            // RFC 4013 §2.1: non-ASCII spaces (RFC 3454 C.1.2) map to SPACE.
            if (IsNonAsciiSpace(c)) { mapped.Append(' '); continue; }
            // RFC 4013 §2.1: "commonly mapped to nothing" (RFC 3454 B.1).
            if (IsMappedToNothing(c)) continue;
            mapped.Append(c);
        }
        string normalized;
        try
        {
            normalized = mapped.ToString().Normalize(NormalizationForm.FormKC);
        }
        catch (ArgumentException)
        {
            return false; // invalid UTF-16 (lone surrogates)
        }

        bool hasRandAL = false, hasL = false;
        for (int i = 0; i < normalized.Length; i++)
        {
            int cp = char.ConvertToUtf32(normalized, i);
            if (cp > 0xffff) i++;
            if (IsProhibited(cp)) return false;
            var cat = CharUnicodeInfo.GetUnicodeCategory(cp);
            if (cat is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.OtherLetter)
            {
                if (IsRightToLeft(cp)) hasRandAL = true; else hasL = true;
            }
        }
        // RFC 3454 §6: RandALCat and LCat characters must not be mixed.
        if (hasRandAL && hasL) return false;
        prepared = normalized;
        return true;
    }

    /// <summary>Prepares a string, or returns it unchanged if preparation fails (it then can only match byte for byte).</summary>
    public static string PrepareOrKeep(string value) => TryPrepare(value, out var p) ? p : value;

    private static bool IsNonAsciiSpace(char c) =>
        c is '\u00a0' or '\u1680' or (>= '\u2000' and <= '\u200b') or '\u202f' or '\u205f' or '\u3000';

    private static bool IsMappedToNothing(char c) =>
        c is '\u00ad' or '\u034f' or '\u1806' or (>= '\u180b' and <= '\u180d') or (>= '\u200b' and <= '\u200d')
            or '\u2060' or (>= '\ufe00' and <= '\ufe0f') or '\ufeff';

    // RFC 4013 §2.3 prohibited output: controls, private use, non-characters, surrogates,
    // inappropriate for plain text / canonical representation, change display properties, tagging.
    private static bool IsProhibited(int cp) =>
        cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)
        || cp is 0x06dd or 0x070f or 0x180e or 0x200c or 0x200d or 0x2028 or 0x2029 or 0xfeff
        || (cp >= 0x2060 && cp <= 0x2063) || (cp >= 0x206a && cp <= 0x206f)
        || (cp >= 0xfff9 && cp <= 0xfffd) || (cp >= 0x1d173 && cp <= 0x1d17a)
        || (cp >= 0xe000 && cp <= 0xf8ff) || (cp >= 0xf0000 && cp <= 0xffffd) || (cp >= 0x100000 && cp <= 0x10fffd)
        || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe
        || (cp >= 0xd800 && cp <= 0xdfff)
        || (cp >= 0x2ff0 && cp <= 0x2ffb) || cp is 0x0340 or 0x0341 or 0x200e or 0x200f
        || (cp >= 0x202a && cp <= 0x202e) || cp == 0xe0001 || (cp >= 0xe0020 && cp <= 0xe007f);

    private static bool IsRightToLeft(int cp) =>
        (cp >= 0x0590 && cp <= 0x08ff) || (cp >= 0xfb1d && cp <= 0xfdff) || (cp >= 0xfe70 && cp <= 0xfefc);
}
