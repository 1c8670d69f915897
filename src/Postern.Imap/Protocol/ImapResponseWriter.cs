// Builds server responses: atoms, numbers, NIL, quoted strings when safe and literals
// otherwise (RFC 9051 §4.3), mailbox names as UTF-8 or modified UTF-7 depending on whether the
// client enabled UTF8=ACCEPT (RFC 9051 §6.3.1, RFC 3501 §5.1.3). The caller flushes the buffer
// to the transport at the points the session chooses.
using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Postern.Imap.Protocol;

/// <summary>Accumulates response bytes for one connection.</summary>
public sealed class ImapResponseWriter
{
    /// <summary>Longest string sent as a quoted string; longer ones become literals.</summary>
    public const int MaxQuotedLength = 1024;

    private const int InitialCapacity = 1024;
    private ArrayBufferWriter<byte> _buffer = new(InitialCapacity);

    /// <summary>Whether UTF-8 may appear in quoted strings and mailbox names (UTF8=ACCEPT enabled or IMAP4rev2).</summary>
    public bool Utf8 { get; set; }

    /// <summary>Bytes written so far.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.WrittenMemory;

    /// <summary>Number of bytes written so far.</summary>
    public int Length => _buffer.WrittenCount;

    // Whether what was flushed before the current buffer ended in the middle of a line.
    private bool _flushedMidLine;

    /// <summary>
    /// Whether the output so far ends in the middle of a line (a response was started and not ended), so that after a
    /// failure the tagged reply can start on a line of its own.
    /// </summary>
    public bool MidLine => _buffer.WrittenCount switch
    {
        0 => _flushedMidLine,
        1 => _buffer.WrittenSpan[0] != (byte)'\n',
        _ => !_buffer.WrittenSpan[^2..].SequenceEqual("\r\n"u8),
    };

    /// <summary>Forgets what was written (after a flush); a buffer grown by a big response is dropped, so an idle connection keeps only a small one.</summary>
    public void Clear()
    {
        _flushedMidLine = MidLine;
        if (_buffer.Capacity > 64 * 1024)
            _buffer = new ArrayBufferWriter<byte>(InitialCapacity);
        else
            _buffer.Clear();
    }

    /// <summary>Writes ASCII text as is.</summary>
    public ImapResponseWriter Raw(string ascii)
    {
        int n = Encoding.UTF8.GetByteCount(ascii);
        Encoding.UTF8.GetBytes(ascii, _buffer.GetSpan(n));
        _buffer.Advance(n);
        return this;
    }

    /// <summary>Writes bytes as is.</summary>
    public ImapResponseWriter Raw(ReadOnlySpan<byte> bytes)
    {
        _buffer.Write(bytes);
        return this;
    }

    /// <summary>Writes one space.</summary>
    public ImapResponseWriter Sp() => Byte((byte)' ');

    /// <summary>Writes CRLF.</summary>
    public ImapResponseWriter Crlf() => Raw("\r\n"u8);

    /// <summary>Writes one byte.</summary>
    public ImapResponseWriter Byte(byte b)
    {
        _buffer.GetSpan(1)[0] = b;
        _buffer.Advance(1);
        return this;
    }

    /// <summary>Writes a decimal number.</summary>
    public ImapResponseWriter Number(ulong value)
    {
        Span<byte> span = _buffer.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out int written);
        _buffer.Advance(written);
        return this;
    }

    /// <summary>Writes NIL.</summary>
    public ImapResponseWriter Nil() => Raw("NIL"u8);

    /// <summary>Writes a string as quoted or literal, or NIL when null.</summary>
    public ImapResponseWriter NString(string? value) => value is null ? Nil() : String(value);

    /// <summary>Writes a string as quoted when possible, else as a literal.</summary>
    public ImapResponseWriter String(string value)
    {
        int n = Encoding.UTF8.GetByteCount(value);
        byte[]? rented = null;
        Span<byte> bytes = n <= 512 ? stackalloc byte[n] : (rented = ArrayPool<byte>.Shared.Rent(n)).AsSpan(0, n);
        Encoding.UTF8.GetBytes(value, bytes);
        String(bytes);
        if (rented is not null)
            ArrayPool<byte>.Shared.Return(rented);
        return this;
    }

    /// <summary>Writes bytes as a quoted string when possible, else as a literal.</summary>
    public ImapResponseWriter String(ReadOnlySpan<byte> value)
    {
        if (CanQuote(value))
        {
            Byte((byte)'"');
            foreach (byte b in value)
            {
                if (b is (byte)'"' or (byte)'\\')
                    Byte((byte)'\\');
                Byte(b);
            }
            return Byte((byte)'"');
        }
        return Literal(value);
    }

    /// <summary>Writes an astring: an atom when the value is a plain atom, otherwise a string.</summary>
    public ImapResponseWriter AString(string value)
    {
        if (value.Length > 0 && value.Length < 256 && value.All(c => c < 0x80 && ImapTokenizer.IsAstringChar((byte)c)) && !value.Equals("NIL", StringComparison.OrdinalIgnoreCase))
            return Raw(value);
        return String(value);
    }

    private bool CanQuote(ReadOnlySpan<byte> value)
    {
        if (value.Length > MaxQuotedLength)
            return false;
        foreach (byte b in value)
        {
            // RFC 9051 §4.3: quoted strings cannot hold CR, LF or NUL; 8-bit only as UTF-8 when allowed.
            if (b is 0 or (byte)'\r' or (byte)'\n')
                return false;
            if (b >= 0x80 && !Utf8)
                return false;
        }
        return b8Valid(value);

        bool b8Valid(ReadOnlySpan<byte> v) => !Utf8 || System.Text.Unicode.Utf8.IsValid(v);
    }

    /// <summary>Writes a literal {n} followed by the bytes.</summary>
    public ImapResponseWriter Literal(ReadOnlySpan<byte> value)
    {
        Byte((byte)'{').Number((ulong)value.Length).Raw("}\r\n"u8);
        return Raw(value);
    }

    /// <summary>Writes the header of a literal of <paramref name="length"/> octets; the caller writes the content.</summary>
    public ImapResponseWriter LiteralHeader(long length, bool binary)
    {
        if (binary)
            Byte((byte)'~');
        return Byte((byte)'{').Number((ulong)length).Raw("}\r\n"u8);
    }

    /// <summary>Writes a mailbox name (UTF-8 or modified UTF-7 per <see cref="Utf8"/>).</summary>
    public ImapResponseWriter Mailbox(string name)
    {
        string wire = Utf8 ? name : ModifiedUtf7.Encode(name);
        return String(wire);
    }

    /// <summary>Writes a parenthesised list of atoms (flags).</summary>
    public ImapResponseWriter AtomList(IEnumerable<string> atoms)
    {
        Byte((byte)'(');
        bool first = true;
        foreach (string a in atoms)
        {
            if (!first)
                Sp();
            first = false;
            Raw(a);
        }
        return Byte((byte)')');
    }

    /// <summary>Writes a date-time as in INTERNALDATE: "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 9051 §9).</summary>
    public ImapResponseWriter DateTime(DateTimeOffset value)
    {
        string s = value.ToString("dd-MMM-yyyy HH:mm:ss ", System.Globalization.CultureInfo.InvariantCulture);
        TimeSpan off = value.Offset;
        char sign = off < TimeSpan.Zero ? '-' : '+';
        off = off.Duration();
        return Byte((byte)'"').Raw(s).Raw(sign + off.Hours.ToString("00", System.Globalization.CultureInfo.InvariantCulture)
            + off.Minutes.ToString("00", System.Globalization.CultureInfo.InvariantCulture)).Byte((byte)'"');
    }
}
