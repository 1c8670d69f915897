using System.Text;

namespace Postern.Mail;

/// <summary>Writes header fields Postern composes (DSNs, reports), folded per RFC 5322 §2.1.1 / §2.2.3.</summary>
public static class HeaderFormatter
{
    /// <summary>Preferred line length (RFC 5322 §2.1.1: SHOULD be no more than 78 characters).</summary>
    public const int LineLength = 78;

    /// <summary>
    /// Formats "Name: value" + CRLF, folding at whitespace so that lines stay within
    /// <see cref="LineLength"/> where possible (a word longer than a line is never split; a
    /// first word too long for the first line goes on the next one).
    /// The value must already be encoded (see <see cref="EncodedWords"/>); CR and LF in it are
    /// replaced by spaces so a value can never inject another field.
    /// </summary>
    public static string Format(string name, string value)
    {
        value = value.Replace('\r', ' ').Replace('\n', ' ');
        var sb = new StringBuilder(name.Length + value.Length + 8);
        sb.Append(name).Append(':');
        int lineLen = sb.Length;
        foreach (var word in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (lineLen + 1 + word.Length > LineLength && lineLen > 0) // never an empty line: it would end the header
            {
                sb.Append("\r\n");
                lineLen = 0;
            }
            sb.Append(' ').Append(word);
            lineLen += 1 + word.Length;
        }
        return sb.Append("\r\n").ToString();
    }

    /// <summary>Formats an unstructured field (Subject, Comments...), RFC 2047-encoding it when needed.</summary>
    public static string FormatUnstructured(string name, string text) => Format(name, EncodedWords.EncodeUnstructured(text));

    /// <summary>Formats an address field from mailboxes, names encoded when needed.</summary>
    public static string FormatAddresses(string name, IEnumerable<MailAddress> addresses) =>
        Format(name, string.Join(", ", addresses.Select(a => a.ToString())));
}
