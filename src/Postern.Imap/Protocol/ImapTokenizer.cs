// Token-level reader over a RawCommand (RFC 9051 §9 formal syntax). Literal markers in the
// text are replaced by the next literal content; every error throws ImapParseException with a
// message that says what was expected where.
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Postern.Imap.Protocol;

internal ref struct ImapTokenizer
{
    private readonly ReadOnlySpan<byte> _text;
    private readonly RawCommand _raw;
    private int _pos;
    private int _literalIndex;

    public ImapTokenizer(RawCommand raw)
    {
        _raw = raw;
        _text = raw.Text;
    }

    public readonly bool AtEnd => _pos >= _text.Length;

    public readonly int Position => _pos;

    public readonly byte Peek() => _pos < _text.Length ? _text[_pos] : (byte)0;

    [DoesNotReturn]
    public readonly void Fail(string what) =>
        throw new ImapParseException($"{what} at position {_pos}");

    public void Expect(byte c)
    {
        if (_pos >= _text.Length || _text[_pos] != c)
            Fail($"Expected '{(char)c}'");
        _pos++;
    }

    public void Sp() => Expect((byte)' ');

    public bool TryConsume(byte c)
    {
        if (_pos < _text.Length && _text[_pos] == c)
        {
            _pos++;
            return true;
        }
        return false;
    }

    public readonly void ExpectEnd()
    {
        if (!AtEnd)
            Fail("Unexpected text after command");
    }

    /// <summary>Consumes a keyword (case-insensitive) if it is next and ends at a delimiter.</summary>
    public bool TryKeyword(string keyword)
    {
        if (_pos + keyword.Length > _text.Length)
            return false;
        if (!Ascii.EqualsIgnoreCase(_text.Slice(_pos, keyword.Length), keyword))
            return false;
        int after = _pos + keyword.Length;
        if (after < _text.Length && IsAtomChar(_text[after]) && _text[after] != (byte)'.' && _text[after] != (byte)'[')
            return false;
        _pos = after;
        return true;
    }

    public static bool IsAtomChar(byte b) =>
        b > 0x20 && b < 0x7f && b is not ((byte)'(' or (byte)')' or (byte)'{' or (byte)'%' or (byte)'*' or (byte)'"' or (byte)'\\' or (byte)']');

    public static bool IsAstringChar(byte b) => IsAtomChar(b) || b == (byte)']';

    public string ReadAtom()
    {
        int start = _pos;
        while (_pos < _text.Length && IsAtomChar(_text[_pos]))
            _pos++;
        if (_pos == start)
            Fail("Expected an atom");
        return Encoding.ASCII.GetString(_text[start.._pos]);
    }

    public string ReadTag()
    {
        int start = _pos;
        while (_pos < _text.Length && IsAstringChar(_text[_pos]) && _text[_pos] != (byte)'+')
            _pos++;
        if (_pos == start)
            throw new ImapParseException("Missing or invalid tag");
        return Encoding.ASCII.GetString(_text[start.._pos]);
    }

    /// <summary>Reads an atom made of letters, digits, '.', '-' and '=' (command and item names), upper-cased.</summary>
    public string ReadName()
    {
        int start = _pos;
        while (_pos < _text.Length && IsAtomChar(_text[_pos]) && _text[_pos] != (byte)'[' && _text[_pos] != (byte)'<')
            _pos++;
        if (_pos == start)
            Fail("Expected a name");
        return Encoding.ASCII.GetString(_text[start.._pos]).ToUpperInvariant();
    }

    public readonly bool AtLiteral => _pos < _text.Length && (_text[_pos] == (byte)'{' || (_text[_pos] == (byte)'~' && _pos + 1 < _text.Length && _text[_pos + 1] == (byte)'{'));

    public byte[] ReadAstringBytes()
    {
        if (_pos < _text.Length && (_text[_pos] == (byte)'"' || AtLiteral))
            return ReadStringBytes();
        int start = _pos;
        while (_pos < _text.Length && IsAstringChar(_text[_pos]))
            _pos++;
        if (_pos == start)
            Fail("Expected an atom or string");
        return _text[start.._pos].ToArray();
    }

    public string ReadAstring() => DecodeUtf8(ReadAstringBytes());

    public string ReadString() => DecodeUtf8(ReadStringBytes());

    /// <summary>nstring: NIL or a string.</summary>
    public string? ReadNString()
    {
        if (TryKeyword("NIL"))
            return null;
        return ReadString();
    }

    public byte[] ReadStringBytes()
    {
        if (TryConsume((byte)'"'))
        {
            var sb = new List<byte>();
            while (true)
            {
                if (_pos >= _text.Length)
                    Fail("Unterminated quoted string");
                byte b = _text[_pos++];
                if (b == (byte)'"')
                    break;
                if (b == (byte)'\\')
                {
                    if (_pos >= _text.Length || (_text[_pos] != (byte)'"' && _text[_pos] != (byte)'\\'))
                        Fail("Invalid escape in quoted string");
                    b = _text[_pos++];
                }
                else if (b == 0)
                {
                    Fail("NUL in quoted string");
                }
                sb.Add(b);
            }
            return sb.ToArray();
        }
        ImapLiteral lit = ReadLiteral(allowBinary: false);
        return lit.GetBytes().ToArray();
    }

    /// <summary>Reads a literal ("{n}" marker then content) and returns its content.</summary>
    public ImapLiteral ReadLiteral(bool allowBinary)
    {
        bool binary = TryConsume((byte)'~');
        if (binary && !allowBinary)
            Fail("Binary literal not allowed here");
        Expect((byte)'{');
        while (_pos < _text.Length && _text[_pos] is >= (byte)'0' and <= (byte)'9')
            _pos++;
        TryConsume((byte)'+');
        Expect((byte)'}');
        if (_literalIndex >= _raw.Literals.Count || _raw.LiteralPositions[_literalIndex] != _pos)
            Fail("Literal marker must end a line");
        ImapLiteral literal = _raw.Literals[_literalIndex++];
        // RFC 9051 §4.3: a non-binary literal must not contain NUL.
        if (!binary && literal.IsInMemory && literal.GetBytes().Span.IndexOf((byte)0) >= 0)
            Fail("NUL in literal; use a binary literal ~{n}");
        return literal;
    }

    public uint ReadNumber()
    {
        ulong v = ReadNumber64();
        if (v > uint.MaxValue)
            Fail("Number too large");
        return (uint)v;
    }

    public uint ReadNzNumber()
    {
        uint v = ReadNumber();
        if (v == 0)
            Fail("Number must not be zero");
        return v;
    }

    public ulong ReadNumber64()
    {
        int start = _pos;
        ulong v = 0;
        while (_pos < _text.Length && _text[_pos] is >= (byte)'0' and <= (byte)'9')
        {
            if (_pos - start >= 19)
                Fail("Number too large");
            v = v * 10 + (ulong)(_text[_pos] - '0');
            _pos++;
        }
        if (_pos == start)
            Fail("Expected a number");
        // RFC 9051 §9: number64 is at most 2^63-1.
        if (v > long.MaxValue)
            Fail("Number too large");
        return v;
    }

    /// <summary>A flag: "\Name" or a keyword atom.</summary>
    public string ReadFlag()
    {
        if (TryConsume((byte)'\\'))
        {
            string name = ReadAtom();
            return "\\" + name;
        }
        return ReadAtom();
    }

    /// <summary>"(" flag *(SP flag) ")" with an empty list allowed.</summary>
    public List<string> ReadFlagList(int maxItems)
    {
        Expect((byte)'(');
        var flags = new List<string>();
        if (TryConsume((byte)')'))
            return flags;
        while (true)
        {
            flags.Add(ReadFlag());
            if (flags.Count > maxItems)
                Fail("Too many flags");
            if (TryConsume((byte)')'))
                return flags;
            Sp();
        }
    }

    public SequenceSet ReadSequenceSet(int maxRanges)
    {
        if (TryConsume((byte)'$'))
            return SequenceSet.SavedResult;
        var ranges = new List<(uint, uint)>();
        while (true)
        {
            uint first = ReadSeqNumber();
            uint last = first;
            if (TryConsume((byte)':'))
                last = ReadSeqNumber();
            ranges.Add((first, last));
            if (ranges.Count > maxRanges)
                Fail("Too many ranges in sequence set");
            if (!TryConsume((byte)','))
                return new SequenceSet(ranges);
        }
    }

    private uint ReadSeqNumber()
    {
        if (TryConsume((byte)'*'))
            return SequenceSet.Star;
        if (Peek() is < (byte)'0' or > (byte)'9')
            Fail("Expected a sequence set");
        uint v = ReadNumber();
        if (v == 0)
            Fail("Sequence number 0 is invalid");
        return v;
    }

    private static readonly string[] Months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

    /// <summary>date (RFC 9051 §9): d-Mon-yyyy, optionally quoted.</summary>
    public DateOnly ReadDate()
    {
        bool quoted = TryConsume((byte)'"');
        int day = ReadDigits(1, 2);
        Expect((byte)'-');
        int month = ReadMonth();
        Expect((byte)'-');
        int year = ReadDigits(4, 4);
        if (quoted)
            Expect((byte)'"');
        if (year < 1 || day > DateTime.DaysInMonth(year, month) || day < 1)
            Fail("Invalid date");
        return new DateOnly(year, month, day);
    }

    /// <summary>date-time (RFC 9051 §9): "dd-Mon-yyyy hh:mm:ss +zzzz".</summary>
    public DateTimeOffset ReadDateTime()
    {
        Expect((byte)'"');
        int day;
        if (TryConsume((byte)' '))
            day = ReadDigits(1, 1);
        else
            day = ReadDigits(1, 2);
        Expect((byte)'-');
        int month = ReadMonth();
        Expect((byte)'-');
        int year = ReadDigits(4, 4);
        Sp();
        int hour = ReadDigits(2, 2);
        Expect((byte)':');
        int minute = ReadDigits(2, 2);
        Expect((byte)':');
        int second = ReadDigits(2, 2);
        Sp();
        int sign = TryConsume((byte)'-') ? -1 : 1;
        if (sign == 1)
            Expect((byte)'+');
        int zone = ReadDigits(4, 4);
        Expect((byte)'"');
        if (year < 1 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 60 || zone % 100 > 59 || zone / 100 > 14)
            Fail("Invalid date-time");
        var offset = new TimeSpan(zone / 100, zone % 100, 0) * sign;
        return new DateTimeOffset(year, month, day, hour, minute, Math.Min(second, 59), offset);
    }

    private int ReadMonth()
    {
        if (_pos + 3 > _text.Length)
            Fail("Expected a month");
        string m = Encoding.ASCII.GetString(_text.Slice(_pos, 3)).ToUpperInvariant();
        int idx = Array.IndexOf(Months, m);
        if (idx < 0)
            Fail("Invalid month");
        _pos += 3;
        return idx + 1;
    }

    private int ReadDigits(int min, int max)
    {
        int start = _pos, v = 0;
        while (_pos < _text.Length && _pos - start < max && _text[_pos] is >= (byte)'0' and <= (byte)'9')
            v = v * 10 + (_text[_pos++] - '0');
        if (_pos - start < min)
            Fail("Expected digits");
        return v;
    }

    public static string DecodeUtf8(byte[] bytes)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ImapParseException("String is not valid UTF-8");
        }
    }

    public readonly string Remaining() => Encoding.UTF8.GetString(_text[_pos..]);

    public static string Num(ulong v) => v.ToString(CultureInfo.InvariantCulture);
}
