// The header section of a message as DKIM needs it: each field's raw bytes (name through
// the final line ending), in order, and where the body starts. Read from a buffer, or from
// a stream up to a bound, leaving the stream at the start of the body.
using System.Buffers;
using System.Text;

namespace Postern.Security.Dkim;

/// <summary>Raw header fields of a message.</summary>
internal sealed class DkimHeaderBlock
{
    /// <summary>Most header fields considered (RFC 5322 sets none; this bounds the work).</summary>
    public const int MaxFields = 1000;

    private DkimHeaderBlock(ReadOnlyMemory<byte> bytes, List<(string Name, int Start, int Length)> fields, int bodyOffset)
    {
        Bytes = bytes;
        Fields = fields;
        BodyOffset = bodyOffset;
    }

    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>Field name (as written), start and length (with final line ending) within <see cref="Bytes"/>.</summary>
    public List<(string Name, int Start, int Length)> Fields { get; }

    /// <summary>Offset of the body in <see cref="Bytes"/> (after the empty line), or Bytes.Length if there is none.</summary>
    public int BodyOffset { get; }

    public ReadOnlySpan<byte> Field(int index) => Bytes.Span.Slice(Fields[index].Start, Fields[index].Length);

    public string FieldValue(int index)
    {
        ReadOnlySpan<byte> f = Field(index);
        int colon = f.IndexOf((byte)':');
        return Encoding.Latin1.GetString(f[(colon + 1)..]);
    }

    /// <summary>Finds the end of the header section: the offset just after the empty line, or -1 if not in the data.</summary>
    public static int FindBodyOffset(ReadOnlySpan<byte> data)
    {
        if (data.StartsWith("\r\n"u8)) return 2;
        if (data.StartsWith("\n"u8)) return 1;
        int pos = 0;
        while (true)
        {
            int nl = data[pos..].IndexOf((byte)'\n');
            if (nl < 0) return -1;
            int next = pos + nl + 1;
            if (next < data.Length && data[next] == '\n') return next + 1;
            if (next + 1 < data.Length && data[next] == '\r' && data[next + 1] == '\n') return next + 2;
            pos = next;
        }
    }

    /// <summary>Splits the header section of <paramref name="message"/>.</summary>
    public static DkimHeaderBlock Parse(ReadOnlyMemory<byte> message, int bodyOffset)
    {
        ReadOnlySpan<byte> s = message.Span;
        int headerEnd = bodyOffset < 0 ? s.Length : bodyOffset;
        var fields = new List<(string, int, int)>();
        int pos = 0;
        while (pos < headerEnd && fields.Count < MaxFields)
        {
            int start = pos;
            // A field runs until a line that does not start with WSP (RFC 5322 §2.2.3).
            while (true)
            {
                int nl = s[pos..headerEnd].IndexOf((byte)'\n');
                pos = nl < 0 ? headerEnd : pos + nl + 1;
                if (pos >= headerEnd || s[pos] is not ((byte)' ' or (byte)'\t')) break;
            }
            ReadOnlySpan<byte> f = s[start..pos];
            if (f.SequenceEqual("\r\n"u8) || f.SequenceEqual("\n"u8)) break;
            int colon = f.IndexOf((byte)':');
            if (colon <= 0) continue; // not a field (e.g. an mbox "From " line): ignored
            string name = Encoding.Latin1.GetString(f[..colon]).TrimEnd(' ', '\t');
            fields.Add((name, start, pos - start));
        }
        return new DkimHeaderBlock(message, fields, bodyOffset < 0 ? s.Length : bodyOffset);
    }

    /// <summary>
    /// Reads the header section from a stream (at most <paramref name="maxBytes"/>). Returns the block
    /// whose bytes also hold the start of the body that was read with it.
    /// </summary>
    public static async Task<DkimHeaderBlock?> ReadAsync(Stream stream, int maxBytes, CancellationToken cancellationToken)
    {
        byte[] buf = new byte[Math.Min(maxBytes, 64 * 1024)];
        int len = 0;
        while (true)
        {
            if (len == buf.Length)
            {
                if (buf.Length >= maxBytes) return null;
                Array.Resize(ref buf, Math.Min(maxBytes, buf.Length * 2));
            }
            int n = await stream.ReadAsync(buf.AsMemory(len), cancellationToken).ConfigureAwait(false);
            int searchFrom = Math.Max(0, len - 3);
            len += n;
            int body = n == 0 ? -1 : FindBodyOffset(buf.AsSpan(0, len));
            _ = searchFrom;
            if (body >= 0) return Parse(buf.AsMemory(0, len), body);
            if (n == 0) return Parse(buf.AsMemory(0, len), -1);
        }
    }

    /// <summary>The header hash input: selected fields (RFC 6376 §5.4.2) canonicalised, then the signature field without its b= value.</summary>
    public void WriteSignedData(DkimCanonicalization c, IReadOnlyList<string> signedHeaders, ReadOnlySpan<byte> signatureFieldWithoutB, IBufferWriter<byte> output)
    {
        var used = new HashSet<int>();
        foreach (string name in signedHeaders)
        {
            // The last unused instance, counting from the bottom; a missing one contributes nothing.
            for (int i = Fields.Count - 1; i >= 0; i--)
            {
                if (used.Contains(i) || !Fields[i].Name.Equals(name, StringComparison.OrdinalIgnoreCase)) continue;
                used.Add(i);
                DkimHeaderCanonicalizer.Append(c, Field(i), withCrlf: true, output);
                break;
            }
        }
        DkimHeaderCanonicalizer.Append(c, signatureFieldWithoutB, withCrlf: false, output);
    }

    /// <summary>The raw field with the value of its b= tag removed (RFC 6376 §3.7).</summary>
    public static byte[] RemoveSignatureValue(ReadOnlySpan<byte> field)
    {
        int colon = field.IndexOf((byte)':');
        int pos = colon + 1;
        while (pos < field.Length)
        {
            int semi = field[pos..].IndexOf((byte)';');
            int end = semi < 0 ? field.Length : pos + semi;
            ReadOnlySpan<byte> seg = field[pos..end];
            int eq = seg.IndexOf((byte)'=');
            if (eq > 0 && seg[..eq].Trim(" \t\r\n"u8).SequenceEqual("b"u8))
            {
                int valueStart = pos + eq + 1;
                int valueEnd = end;
                // Keep the field's final line ending.
                if (semi < 0)
                {
                    if (field.EndsWith("\r\n"u8)) valueEnd -= 2;
                    else if (field.EndsWith("\n"u8)) valueEnd -= 1;
                }
                return [.. field[..valueStart], .. field[valueEnd..]];
            }
            pos = end + 1;
        }
        return field.ToArray();
    }
}
