// Modified UTF-7 (RFC 3501 §5.1.3) for mailbox names of clients that have not enabled
// UTF8=ACCEPT: printable ASCII stands for itself except "&", written "&-"; everything else is
// UTF-16 in modified base64 (with "," for "/") between "&" and "-".
using System.Text;

namespace Postern.Imap.Protocol;

/// <summary>Encodes and decodes modified UTF-7 mailbox names.</summary>
public static class ModifiedUtf7
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

    /// <summary>Encodes a Unicode mailbox name.</summary>
    public static string Encode(string name)
    {
        var sb = new StringBuilder(name.Length + 8);
        int i = 0;
        while (i < name.Length)
        {
            char c = name[i];
            if (c >= 0x20 && c <= 0x7e)
            {
                sb.Append(c == '&' ? "&-" : c.ToString());
                i++;
                continue;
            }
            int start = i;
            while (i < name.Length && (name[i] < 0x20 || name[i] > 0x7e))
                i++;
            sb.Append('&');
            int bits = 0, buffer = 0;
            for (int k = start; k < i; k++)
            {
                buffer = (buffer << 16) | name[k];
                bits += 16;
                while (bits >= 6)
                {
                    bits -= 6;
                    sb.Append(Alphabet[(buffer >> bits) & 0x3f]);
                }
            }
            if (bits > 0)
                sb.Append(Alphabet[(buffer << (6 - bits)) & 0x3f]);
            sb.Append('-');
        }
        return sb.ToString();
    }

    /// <summary>Decodes a modified UTF-7 name; false when it is not valid modified UTF-7.</summary>
    public static bool TryDecode(string encoded, out string name)
    {
        name = encoded;
        if (encoded.IndexOf('&', StringComparison.Ordinal) < 0)
        {
            foreach (char c in encoded)
            {
                if (c < 0x20 || c > 0x7e)
                    return false;
            }
            return true;
        }
        var sb = new StringBuilder(encoded.Length);
        int i = 0;
        while (i < encoded.Length)
        {
            char c = encoded[i];
            if (c < 0x20 || c > 0x7e)
                return false;
            if (c != '&')
            {
                sb.Append(c);
                i++;
                continue;
            }
            int end = encoded.IndexOf('-', i + 1);
            if (end < 0)
                return false;
            if (end == i + 1)
            {
                sb.Append('&');
                i = end + 1;
                continue;
            }
            int bits = 0, buffer = 0;
            int chars = 0;
            for (int k = i + 1; k < end; k++)
            {
                int v = Alphabet.IndexOf(encoded[k], StringComparison.Ordinal);
                if (v < 0)
                    return false;
                buffer = ((buffer << 6) | v) & 0xffffff;
                bits += 6;
                if (bits >= 16)
                {
                    bits -= 16;
                    char u = (char)((buffer >> bits) & 0xffff);
                    // RFC 3501 §5.1.3: printable US-ASCII must not be encoded.
                    if (u >= 0x20 && u <= 0x7e)
                        return false;
                    sb.Append(u);
                    chars++;
                }
            }
            // Leftover bits must be zero padding, fewer than 6.
            if (bits >= 6 || (buffer & ((1 << bits) - 1)) != 0 || chars == 0)
                return false;
            i = end + 1;
        }
        string result = sb.ToString();
        // Surrogates must pair up.
        for (int k = 0; k < result.Length; k++)
        {
            if (char.IsHighSurrogate(result[k]))
            {
                if (k + 1 >= result.Length || !char.IsLowSurrogate(result[k + 1]))
                    return false;
                k++;
            }
            else if (char.IsLowSurrogate(result[k]))
            {
                return false;
            }
        }
        name = result;
        return true;
    }
}
