using System.Text;
using Postern.Mail;

namespace Postern.Queue;

/// <summary>Reading the header section of a queued message without reading its body.</summary>
internal static class MessageHeaders
{
    /// <summary>Longest header section read; a longer one is cut (its fields are then partly unknown).</summary>
    public const int MaxHeaderBytes = 256 * 1024;

    /// <summary>The header section (up to and including the empty line) and its parsed fields.</summary>
    public static async Task<(byte[] Block, HeaderList Headers)> ReadAsync(Stream stream, CancellationToken ct)
    {
        var buffer = new byte[Math.Min(MaxHeaderBytes, 16 * 1024)];
        int length = 0;
        while (true)
        {
            int end = FindHeaderEnd(buffer.AsSpan(0, length));
            if (end >= 0)
            {
                byte[] block = buffer.AsSpan(0, end).ToArray();
                return (block, HeaderList.Parse(block));
            }
            if (length == buffer.Length)
            {
                if (buffer.Length >= MaxHeaderBytes) break;
                Array.Resize(ref buffer, Math.Min(MaxHeaderBytes, buffer.Length * 4));
            }
            int n = await stream.ReadAsync(buffer.AsMemory(length), ct).ConfigureAwait(false);
            if (n == 0) break;
            length += n;
        }
        byte[] all = buffer.AsSpan(0, length).ToArray();
        return (all, HeaderList.Parse(all));
    }

    /// <summary>Offset just past the CRLF CRLF that ends the header section, or -1.</summary>
    public static int FindHeaderEnd(ReadOnlySpan<byte> data)
    {
        if (data.StartsWith("\r\n"u8)) return 2;
        int i = data.IndexOf("\r\n\r\n"u8);
        return i < 0 ? -1 : i + 4;
    }

    /// <summary>The domain of the first From address, lower-case, or null.</summary>
    public static string? FromDomain(HeaderList headers)
    {
        var from = AddressParser.ParseMailboxes(headers.GetValue("From"));
        if (from.Count == 0) return null;
        string d = from[0].Domain.TrimEnd('.').ToLowerInvariant();
        return d.Length == 0 ? null : MailAddress.ToAsciiDomain(d);
    }

    /// <summary>Latin-1 bytes of an ASCII header text.</summary>
    public static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);
}
