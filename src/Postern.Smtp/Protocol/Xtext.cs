using System.Text;

namespace Postern.Smtp.Protocol;

/// <summary>xtext (RFC 3461 §4): printable ASCII except '+' and '=', with "+XX" hex escapes.</summary>
public static class Xtext
{
    /// <summary>Decodes xtext; null when it is invalid (bad character, lower-case or incomplete escape).</summary>
    public static string? Decode(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '+')
            {
                // RFC 3461 §4: hexchar is "+" followed by two upper-case hex digits.
                if (i + 2 >= s.Length || !IsUpperHex(s[i + 1]) || !IsUpperHex(s[i + 2]))
                    return null;
                sb.Append((char)Convert.ToByte(s.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (c is >= '!' and <= '~' && c != '=')
                sb.Append(c);
            else
                return null;
        }
        return sb.ToString();
    }

    /// <summary>Encodes a string as xtext.</summary>
    public static string Encode(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(s))
        {
            if (b is >= (byte)'!' and <= (byte)'~' && b != '+' && b != '=')
                sb.Append((char)b);
            else
                sb.Append('+').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    private static bool IsUpperHex(char c) => c is (>= '0' and <= '9') or (>= 'A' and <= 'F');
}
