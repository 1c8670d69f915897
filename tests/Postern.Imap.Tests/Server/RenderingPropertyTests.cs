using FsCheck;
using FsCheck.Fluent;
using Postern.Imap.Protocol;
using Postern.Imap.Server;
using Postern.Mail;
using Postern.Tests.Shared;

namespace Postern.Imap.Tests.Server;

/// <summary>
/// ENVELOPE and BODYSTRUCTURE of mutated real-world messages (the Mail corpus with a few bytes
/// changed) are well-formed IMAP (RFC 9051 §4, §7.5.2): one parenthesised list of the right shape,
/// strings quoted or sent as literals of the right length, nothing a client's parser would choke on,
/// with and without UTF8=ACCEPT.
/// </summary>
public class RenderingPropertyTests
{
    private static readonly byte[][] Corpus = Mutations.Corpus();

    [Fact]
    public void Envelope_and_bodystructure_of_any_message_parse_as_imap()
    {
        Assert.NotEmpty(Corpus);
        Prop.ForAll(Mutations.Of(Corpus), raw =>
        {
            MessageStructure structure = MessageStructure.Parse(raw);
            foreach (bool utf8 in new[] { false, true })
            {
                var w = new ImapResponseWriter { Utf8 = utf8 };
                MessageRendering.WriteEnvelope(w, structure.Envelope);
                Check(w, utf8, raw, expectedItems: 10, "ENVELOPE");
                w.Clear();
                MessageRendering.WriteBodyStructure(w, structure.Root, extensible: true);
                Check(w, utf8, raw, expectedItems: null, "BODYSTRUCTURE");
            }
            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(Mutations.Runs(1000)));
    }

    private static void Check(ImapResponseWriter w, bool utf8, byte[] raw, int? expectedItems, string what)
    {
        byte[] bytes = w.WrittenMemory.ToArray();
        try
        {
            var reader = new ImapValueReader(bytes, utf8);
            int items = reader.ReadList();
            if (!reader.AtEnd) throw new FormatException($"bytes after the list at {reader.Position}");
            if (expectedItems is { } n && items != n) throw new FormatException($"{items} items, expected {n}");
        }
        catch (FormatException e)
        {
            throw new InvalidOperationException($"{what} (utf8={utf8}) is not valid IMAP: {e.Message}\n{Mutations.Show(bytes)}\ninput {Mutations.Show(raw)}");
        }
    }

    /// <summary>A strict reader of IMAP response values (RFC 9051 §9: nil, number, atom, quoted, literal, list).</summary>
    private ref struct ImapValueReader(ReadOnlySpan<byte> data, bool utf8)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _pos;

        public readonly bool AtEnd => _pos == _data.Length;

        public readonly int Position => _pos;

        /// <summary>Reads "(" values separated by single spaces ")" (lists may also follow each other directly) and returns how many there were.</summary>
        public int ReadList()
        {
            Expect((byte)'(');
            int count = 0;
            if (Peek() == (byte)')')
            {
                _pos++;
                return 0;
            }
            while (true)
            {
                bool list = Peek() == (byte)'(';
                ReadValue();
                count++;
                // RFC 9051 §9 env-from etc.: "(" 1*address ")", addresses with no space between them.
                if (list && Peek() == (byte)'(') continue;
                byte b = Next();
                if (b == (byte)')') return count;
                if (b != (byte)' ') throw new FormatException($"expected space or ) at {_pos - 1}, got 0x{b:x2}");
            }
        }

        private void ReadValue()
        {
            byte b = Peek();
            if (b == (byte)'(') ReadList();
            else if (b == (byte)'"') ReadQuoted();
            else if (b is (byte)'{' or (byte)'~') ReadLiteral();
            else ReadAtom();
        }

        private void ReadQuoted()
        {
            Expect((byte)'"');
            int start = _pos;
            while (true)
            {
                byte b = Next();
                if (b == (byte)'"') break;
                if (b == (byte)'\\')
                {
                    byte e = Next();
                    if (e is not ((byte)'"' or (byte)'\\')) throw new FormatException($"bad escape at {_pos - 1}");
                    continue;
                }
                if (b is 0 or (byte)'\r' or (byte)'\n') throw new FormatException($"CR, LF or NUL in a quoted string at {_pos - 1}");
                if (b >= 0x80 && !utf8) throw new FormatException($"8-bit byte in a quoted string without UTF8=ACCEPT at {_pos - 1}");
            }
            if (utf8 && !System.Text.Unicode.Utf8.IsValid(_data[start..(_pos - 1)])) throw new FormatException($"invalid UTF-8 in a quoted string at {start}");
        }

        private void ReadLiteral()
        {
            if (Peek() == (byte)'~') _pos++;
            Expect((byte)'{');
            long n = 0;
            int digits = 0;
            while (Peek() is >= (byte)'0' and <= (byte)'9')
            {
                n = n * 10 + (Next() - '0');
                digits++;
            }
            if (digits == 0) throw new FormatException($"literal without a length at {_pos}");
            Expect((byte)'}');
            Expect((byte)'\r');
            Expect((byte)'\n');
            if (_pos + n > _data.Length) throw new FormatException($"literal of {n} octets runs past the end");
            _pos += (int)n;
        }

        private void ReadAtom()
        {
            int start = _pos;
            // RFC 9051 §9 atom-char: no parens, space, controls, quotes, braces, list/resp specials.
            while (_pos < _data.Length && _data[_pos] is > 0x20 and < 0x7f and not ((byte)'(' or (byte)')' or (byte)'{' or (byte)'"' or (byte)'\\' or (byte)'%' or (byte)'*' or (byte)']'))
                _pos++;
            if (_pos == start) throw new FormatException($"expected a value at {_pos}, got 0x{(_pos < _data.Length ? _data[_pos] : 0):x2}");
        }

        private readonly byte Peek() => _pos < _data.Length ? _data[_pos] : throw new FormatException("unexpected end");

        private byte Next() => _pos < _data.Length ? _data[_pos++] : throw new FormatException("unexpected end");

        private void Expect(byte b)
        {
            if (Next() != b) throw new FormatException($"expected '{(char)b}' at {_pos - 1}");
        }
    }
}
