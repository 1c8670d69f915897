using System.Buffers.Text;
using System.Text;

namespace Postern.Import;

/// <summary>
/// Mailbox names on disk: the modified UTF-7 of IMAP (RFC 3501 §5.1.3) that Maildir++ folder
/// names use, and a file-name-safe form for mbox export.
/// </summary>
internal static class MailboxNameCodec
{
    /// <summary>Decodes modified UTF-7; returns the input unchanged when it is not valid.</summary>
    public static string DecodeModifiedUtf7(string text)
    {
        if (!text.Contains('&', StringComparison.Ordinal))
            return text;
        var sb = new StringBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c != '&')
            {
                sb.Append(c);
                i++;
                continue;
            }
            int end = text.IndexOf('-', i + 1);
            if (end < 0)
                return text;
            if (end == i + 1)
            {
                // RFC 3501 §5.1.3: "&-" represents "&".
                sb.Append('&');
                i = end + 1;
                continue;
            }
            // Modified BASE64: ',' instead of '/', no padding.
            var b64 = text[(i + 1)..end].Replace(',', '/');
            b64 = b64.PadRight((b64.Length + 3) / 4 * 4, '=');
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(b64);
            }
            catch (FormatException)
            {
                return text;
            }
            if (bytes.Length % 2 != 0)
                return text;
            sb.Append(Encoding.BigEndianUnicode.GetString(bytes));
            i = end + 1;
        }
        return sb.ToString();
    }

    /// <summary>Encodes modified UTF-7; characters in <paramref name="alsoEncode"/> are encoded even when printable.</summary>
    public static string EncodeModifiedUtf7(string text, string alsoEncode = "")
    {
        var sb = new StringBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == '&')
            {
                sb.Append("&-");
                i++;
                continue;
            }
            if (c >= 0x20 && c <= 0x7e && !alsoEncode.Contains(c, StringComparison.Ordinal))
            {
                sb.Append(c);
                i++;
                continue;
            }
            int start = i;
            while (i < text.Length && !(text[i] >= 0x20 && text[i] <= 0x7e && !alsoEncode.Contains(text[i], StringComparison.Ordinal)))
                i++;
            var utf16 = Encoding.BigEndianUnicode.GetBytes(text[start..i]);
            sb.Append('&').Append(Convert.ToBase64String(utf16).TrimEnd('=').Replace('/', ',')).Append('-');
        }
        return sb.ToString();
    }

    /// <summary>The mailbox name of a Maildir++ folder (".Sub.Folder" gives "Sub/Folder").</summary>
    public static string FromMaildirFolder(string folderName)
    {
        var parts = folderName.TrimStart('.').Split('.', StringSplitOptions.RemoveEmptyEntries);
        return string.Join('/', parts.Select(DecodeModifiedUtf7));
    }

    /// <summary>The Maildir++ folder for a mailbox name ("Sub/Folder" gives ".Sub.Folder"); a '.' inside a name is encoded so it does not split it.</summary>
    public static string ToMaildirFolder(string mailboxName) =>
        "." + string.Join('.', mailboxName.Split('/').Select(p => EncodeModifiedUtf7(p, ".")));

    /// <summary>A relative path safe on every file system for a mailbox name: components kept, unsafe characters as %XX.</summary>
    public static string ToFileSystemPath(string mailboxName)
    {
        var parts = mailboxName.Split('/').Select(p =>
        {
            var sb = new StringBuilder();
            foreach (var b in Encoding.UTF8.GetBytes(p))
            {
                char c = (char)b;
                if (b < 0x20 || b == 0x7f || "<>:\"\\|?*%".Contains(c, StringComparison.Ordinal))
                    sb.Append('%').Append(((int)b).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
                else
                    sb.Append(c);
            }
            var s = sb.ToString();
            // Encoded as well so the name maps back: Latin1 bytes above 0x7f are decoded as UTF-8 below.
            s = Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(s));
            if (s is "" or "." or "..")
                s = s.Replace(".", "%2E", StringComparison.Ordinal) + (s.Length == 0 ? "%00" : "");
            if (s.EndsWith('.') || s.EndsWith(' '))
                s = s[..^1] + (s[^1] == '.' ? "%2E" : "%20");
            return s;
        });
        return string.Join(Path.DirectorySeparatorChar, parts);
    }

    /// <summary>The mailbox name of a relative path written by <see cref="ToFileSystemPath"/>.</summary>
    public static string FromFileSystemPath(string relativePath)
    {
        var parts = relativePath.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar).Select(p =>
        {
            if (p == "%00")
                return "";
            var bytes = new List<byte>();
            var raw = Encoding.UTF8.GetBytes(p);
            for (int i = 0; i < raw.Length; i++)
            {
                if (raw[i] == '%' && i + 2 < raw.Length && Utf8Parser.TryParse(raw.AsSpan(i + 1, 2), out byte v, out int used, 'X') && used == 2)
                {
                    bytes.Add(v);
                    i += 2;
                }
                else
                {
                    bytes.Add(raw[i]);
                }
            }
            return Encoding.UTF8.GetString(bytes.ToArray());
        });
        return string.Join('/', parts);
    }
}
