namespace Postern.Mail;

/// <summary>
/// A streaming content-transfer decoder (RFC 2045 §6). Feed input in chunks of any size;
/// the output of each call is at most its input length plus <see cref="TransferDecoding.MaxCarry"/>
/// bytes (bytes held back from the previous chunk, e.g. whitespace that may turn out to be
/// trailing). Over a whole body the output is never longer than the input.
/// </summary>
public interface ITransferDecoder
{
    /// <summary>Decodes <paramref name="input"/> into <paramref name="output"/>, returning bytes written.
    /// <paramref name="output"/> must hold at least input.Length + <see cref="TransferDecoding.MaxCarry"/> bytes.</summary>
    int Decode(ReadOnlySpan<byte> input, Span<byte> output);

    /// <summary>Writes whatever is pending at the end of input; returns bytes written (at most <see cref="TransferDecoding.MaxCarry"/>).</summary>
    int Flush(Span<byte> output);
}

/// <summary>Factory and one-shot helpers for content-transfer decoding.</summary>
public static class TransferDecoding
{
    /// <summary>Most bytes a decoder holds back between calls (and so may add to one call's output).</summary>
    public const int MaxCarry = 1024;

    /// <summary>
    /// A decoder for the Content-Transfer-Encoding value, or an identity decoder for
    /// 7bit, 8bit, binary and unknown encodings (RFC 2045 §6.4: unknown means opaque).
    /// </summary>
    public static ITransferDecoder Create(string? contentTransferEncoding) =>
        (contentTransferEncoding ?? "").Trim().ToLowerInvariant() switch
        {
            "base64" => new Base64Decoder(),
            "quoted-printable" => new QuotedPrintableDecoder(),
            _ => new IdentityDecoder(),
        };

    /// <summary>True when the encoding is one Postern decodes (base64, quoted-printable) or an identity (7bit, 8bit, binary).</summary>
    public static bool IsKnown(string? contentTransferEncoding) =>
        (contentTransferEncoding ?? "7bit").Trim().ToLowerInvariant() is "base64" or "quoted-printable" or "7bit" or "8bit" or "binary" or "";

    /// <summary>Decodes a whole body at once.</summary>
    public static byte[] Decode(ReadOnlySpan<byte> body, string? contentTransferEncoding)
    {
        var d = Create(contentTransferEncoding);
        var output = new byte[body.Length + 8];
        int n = d.Decode(body, output);
        n += d.Flush(output.AsSpan(n));
        return output[..n];
    }
}

/// <summary>Passes bytes through unchanged (7bit, 8bit, binary).</summary>
public sealed class IdentityDecoder : ITransferDecoder
{
    /// <inheritdoc/>
    public int Decode(ReadOnlySpan<byte> input, Span<byte> output)
    {
        input.CopyTo(output);
        return input.Length;
    }

    /// <inheritdoc/>
    public int Flush(Span<byte> output) => 0;
}

/// <summary>
/// Base64 (RFC 2045 §6.8), tolerant: characters outside the alphabet are ignored as the RFC
/// says, decoding stops at the first '=' pad, and a dangling partial quantum is decoded as far
/// as its bits allow.
/// </summary>
public sealed class Base64Decoder : ITransferDecoder
{
    private static readonly sbyte[] Map = BuildMap();
    private int _bits;
    private int _count;
    private bool _ended;

    private static sbyte[] BuildMap()
    {
        var m = new sbyte[256];
        Array.Fill(m, (sbyte)-1);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < alphabet.Length; i++) m[alphabet[i]] = (sbyte)i;
        return m;
    }

    /// <inheritdoc/>
    public int Decode(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int o = 0;
        if (_ended) return 0;
        int bits = _bits, count = _count;
        for (int i = 0; i < input.Length; i++)
        {
            byte c = input[i];
            int v = Map[c];
            if (v < 0)
            {
                // RFC 2045 §6.8: '=' marks the end of data; other characters are ignored.
                if (c == (byte)'=' && count >= 2) { _ended = true; break; }
                continue;
            }
            bits = bits << 6 | v;
            if (++count == 4)
            {
                output[o++] = (byte)(bits >> 16);
                output[o++] = (byte)(bits >> 8);
                output[o++] = (byte)bits;
                bits = 0;
                count = 0;
            }
        }
        _bits = bits;
        _count = count;
        if (_ended) o += Flush(output[o..]);
        return o;
    }

    /// <inheritdoc/>
    public int Flush(Span<byte> output)
    {
        int o = 0;
        if (_count == 2) output[o++] = (byte)(_bits >> 4);
        else if (_count == 3)
        {
            output[o++] = (byte)(_bits >> 10);
            output[o++] = (byte)(_bits >> 2);
        }
        _bits = 0;
        _count = 0;
        return o;
    }
}

/// <summary>
/// Quoted-printable (RFC 2045 §6.7), tolerant: an '=' not followed by two hex digits or a
/// line break is kept literally (RFC 2045 §6.7 note (2)), trailing whitespace on lines is
/// removed (rule (3)), soft line breaks "=" CRLF (or bare LF) are removed (rule (5)).
/// </summary>
public sealed class QuotedPrintableDecoder : ITransferDecoder
{
    // Carries at most "=X" or pending whitespace between calls.
    private readonly byte[] _carry = new byte[1024];
    private int _carryLen;

    /// <inheritdoc/>
    public int Decode(ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (_carryLen == 0) return DecodeCore(input, output, final: false);
        // Join the carried bytes with the new input; the carry is short.
        var joined = new byte[_carryLen + input.Length];
        _carry.AsSpan(0, _carryLen).CopyTo(joined);
        input.CopyTo(joined.AsSpan(_carryLen));
        _carryLen = 0;
        if (output.Length < joined.Length)
        {
            var tmp = new byte[joined.Length];
            int m = DecodeCore(joined, tmp, final: false);
            tmp.AsSpan(0, m).CopyTo(output);
            return m;
        }
        return DecodeCore(joined, output, final: false);
    }

    /// <inheritdoc/>
    public int Flush(Span<byte> output)
    {
        if (_carryLen == 0) return 0;
        var rest = _carry.AsSpan(0, _carryLen).ToArray();
        _carryLen = 0;
        var tmp = new byte[rest.Length + 4];
        int n = DecodeCore(rest, tmp, final: true);
        tmp.AsSpan(0, n).CopyTo(output);
        return n;
    }

    private int DecodeCore(ReadOnlySpan<byte> s, Span<byte> output, bool final)
    {
        int o = 0;
        int i = 0;
        while (i < s.Length)
        {
            byte c = s[i];
            if (c == (byte)'=')
            {
                if (i + 1 >= s.Length || (i + 2 >= s.Length && s[i + 1] != (byte)'\n'))
                {
                    if (!final) { Carry(s[i..]); return o; }
                    output[o++] = c;
                    i++;
                    continue;
                }
                byte a = s[i + 1];
                if (a == (byte)'\n') { i += 2; continue; } // soft break, bare LF
                byte b = s[i + 2];
                if (a == (byte)'\r' && b == (byte)'\n') { i += 3; continue; } // soft break
                if (IsHex(a) && IsHex(b))
                {
                    output[o++] = (byte)(HexVal(a) << 4 | HexVal(b));
                    i += 3;
                    continue;
                }
                // "=" followed by whitespace up to the line end is a soft break with padding.
                int j = i + 1;
                while (j < s.Length && s[j] is (byte)' ' or (byte)'\t') j++;
                if (j < s.Length && s[j] is (byte)'\r' or (byte)'\n')
                {
                    if (s[j] == (byte)'\r' && j + 1 < s.Length && s[j + 1] == (byte)'\n') j++;
                    i = j + 1;
                    continue;
                }
                if (j == s.Length && !final && j - i < 512) { Carry(s[i..]); return o; }
                output[o++] = c;
                i++;
                continue;
            }
            if (c is (byte)' ' or (byte)'\t')
            {
                // RFC 2045 §6.7 (3): whitespace at the end of a line is not part of the data.
                int j = i;
                while (j < s.Length && s[j] is (byte)' ' or (byte)'\t') j++;
                if (j == s.Length && !final && j - i < 512) { Carry(s[i..]); return o; }
                bool atEol = j == s.Length || s[j] is (byte)'\r' or (byte)'\n';
                if (!atEol) { s[i..j].CopyTo(output[o..]); o += j - i; }
                i = j;
                continue;
            }
            output[o++] = c;
            i++;
        }
        return o;
    }

    private void Carry(ReadOnlySpan<byte> rest)
    {
        rest.CopyTo(_carry);
        _carryLen = rest.Length;
    }

    private static bool IsHex(byte c) => char.IsAsciiHexDigit((char)c);

    private static int HexVal(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
