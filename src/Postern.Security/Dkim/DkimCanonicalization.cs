// DKIM canonicalisation, RFC 6376 §3.4. The body is canonicalised while streaming: lines
// are found with vectorised searches and runs of lines that need no change are hashed in
// one call; only lines with tabs, double spaces, trailing white space or bare LF take the
// slow path. Empty lines are counted, not buffered, because trailing ones are dropped
// (§3.4.3, §3.4.4). An incomplete line is carried between chunks; a carry longer than
// CarryLimit is flushed early so that memory stays bounded whatever the input.
using System.Buffers;
using System.Security.Cryptography;

namespace Postern.Security.Dkim;

/// <summary>Canonicalisation algorithms (RFC 6376 §3.4).</summary>
public enum DkimCanonicalization
{
    /// <summary>"simple": almost no change tolerated.</summary>
    Simple,
    /// <summary>"relaxed": white space and header-name case changes tolerated.</summary>
    Relaxed,
}

/// <summary>Header canonicalisation (RFC 6376 §3.4.1, §3.4.2).</summary>
public static class DkimHeaderCanonicalizer
{
    /// <summary>
    /// Appends the canonical form of one raw header field (name, colon, value, folding, final CRLF
    /// if <paramref name="withCrlf"/>) to <paramref name="output"/>.
    /// </summary>
    public static void Append(DkimCanonicalization c, ReadOnlySpan<byte> rawField, bool withCrlf, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        // The raw field is given with or without its final CRLF; normalise to "without".
        if (rawField.EndsWith("\r\n"u8)) rawField = rawField[..^2];
        else if (rawField.EndsWith("\n"u8)) rawField = rawField[..^1];
        if (c == DkimCanonicalization.Simple)
        {
            output.Write(rawField);
            if (withCrlf) output.Write("\r\n"u8);
            return;
        }
        int colon = rawField.IndexOf((byte)':');
        if (colon < 0) colon = rawField.Length;
        // Name: lower case, white space before the colon removed.
        ReadOnlySpan<byte> name = rawField[..colon];
        while (name.Length > 0 && name[^1] is (byte)' ' or (byte)'\t') name = name[..^1];
        Span<byte> lower = name.Length <= 256 ? stackalloc byte[name.Length] : new byte[name.Length];
        for (int i = 0; i < name.Length; i++) lower[i] = name[i] is >= (byte)'A' and <= (byte)'Z' ? (byte)(name[i] + 32) : name[i];
        output.Write(lower);
        output.Write(":"u8);
        if (colon < rawField.Length)
        {
            // Value: unfold, runs of WSP to one SP, WSP at both ends removed.
            ReadOnlySpan<byte> v = rawField[(colon + 1)..];
            bool pendingSpace = false, any = false;
            int runStart = -1;
            Span<byte> one = stackalloc byte[1];
            for (int i = 0; i < v.Length; i++)
            {
                byte b = v[i];
                if (b is (byte)'\r' or (byte)'\n' or (byte)' ' or (byte)'\t')
                {
                    if (runStart >= 0) { output.Write(v[runStart..i]); runStart = -1; }
                    if (b is (byte)' ' or (byte)'\t') pendingSpace = any;
                    continue;
                }
                if (runStart < 0)
                {
                    if (pendingSpace) { one[0] = (byte)' '; output.Write(one); pendingSpace = false; }
                    runStart = i;
                }
                any = true;
            }
            if (runStart >= 0) output.Write(v[runStart..]);
        }
        if (withCrlf) output.Write("\r\n"u8);
    }
}

/// <summary>
/// Canonicalises a message body and hashes it with SHA-256 (or SHA-1), fed in chunks of any size
/// (RFC 6376 §3.4.3-3.4.5, §3.7). Memory use is bounded whatever the body's line lengths.
/// </summary>
public sealed class DkimBodyHasher : IDisposable
{
    private const int CarryLimit = 16 * 1024;
    private readonly DkimCanonicalization _canon;
    private readonly IncrementalHash _hash;
    private readonly long _limit;
    private byte[] _carry = new byte[1024];
    private int _carryLength;
    private long _pendingEmptyLines;
    private bool _pendingSpace; // relaxed: white space seen inside the current (partly flushed) line
    private bool _lineStarted;  // part of the current line was already hashed
    private long _hashed;
    private static readonly SearchValues<byte> Wsp = SearchValues.Create(" \t"u8);

    /// <summary>Creates a hasher; <paramref name="lengthLimit"/> (the l= tag) stops hashing after that many canonical octets.</summary>
    public DkimBodyHasher(DkimCanonicalization canonicalization, HashAlgorithmName hash, long lengthLimit = long.MaxValue)
    {
        _canon = canonicalization;
        _hash = IncrementalHash.CreateHash(hash);
        _limit = lengthLimit < 0 ? 0 : lengthLimit;
    }

    /// <summary>Canonical octets produced so far (before the l= limit is applied, not counting dropped trailing lines).</summary>
    public long CanonicalLength { get; private set; }

    /// <summary>Feeds the next part of the body.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (_carryLength > 0)
        {
            int nl = data.IndexOf((byte)'\n');
            if (nl < 0)
            {
                AddCarry(data);
                if (_carryLength > CarryLimit) FlushPartialLine();
                return;
            }
            AddCarry(data[..(nl + 1)]);
            Line(_carry.AsSpan(0, _carryLength));
            _carryLength = 0;
            data = data[(nl + 1)..];
        }
        while (data.Length > 0)
        {
            // Fast path: a run of complete lines that canonicalise to themselves.
            int end = CleanRun(data);
            if (end > 0)
            {
                Emit(data[..end]);
                data = data[end..];
                continue;
            }
            int nl = data.IndexOf((byte)'\n');
            if (nl < 0)
            {
                AddCarry(data);
                if (_carryLength > CarryLimit) FlushPartialLine();
                return;
            }
            Line(data[..(nl + 1)]);
            data = data[(nl + 1)..];
        }
    }

    /// <summary>Ends the body and returns its hash (RFC 6376 §3.7).</summary>
    public byte[] Finish()
    {
        if (_carryLength > 0 || _lineStarted)
        {
            // A last line without line ending is completed with CRLF (RFC 6376 §3.4.3).
            Span<byte> crlf = [(byte)'\r', (byte)'\n'];
            byte[] last = new byte[_carryLength + 2];
            _carry.AsSpan(0, _carryLength).CopyTo(last);
            crlf.CopyTo(last.AsSpan(_carryLength));
            _carryLength = 0;
            Line(last);
        }
        // RFC 6376 §3.4.3: an empty body is one CRLF in simple; §3.4.4 (erratum 1384): empty in relaxed.
        if (_canon == DkimCanonicalization.Simple && CanonicalLength == 0) Emit("\r\n"u8);
        return _hash.GetHashAndReset();
    }

    /// <inheritdoc/>
    public void Dispose() => _hash.Dispose();

    /// <summary>Length of the longest prefix made of complete CRLF lines that need no change and are not empty.</summary>
    private int CleanRun(ReadOnlySpan<byte> data)
    {
        if (_lineStarted) return 0;
        int pos = 0;
        while (pos < data.Length)
        {
            ReadOnlySpan<byte> rest = data[pos..];
            int nl = rest.IndexOf((byte)'\n');
            if (nl < 1 || rest[nl - 1] != '\r' || nl == 1) break; // bare LF, empty line or incomplete line
            ReadOnlySpan<byte> content = rest[..(nl - 1)];
            if (content.Contains((byte)'\r')) break;
            if (_canon == DkimCanonicalization.Relaxed)
            {
                if (content[^1] is (byte)' ' or (byte)'\t' || content.Contains((byte)'\t') || content.IndexOf("  "u8) >= 0) break;
            }
            pos += nl + 1;
        }
        if (pos > 0 && _pendingEmptyLines > 0) FlushEmptyLines();
        return pos;
    }

    /// <summary>One complete line, ending with LF (CRLF or bare LF).</summary>
    private void Line(ReadOnlySpan<byte> line)
    {
        ReadOnlySpan<byte> content = line[..^1];
        if (content.Length > 0 && content[^1] == '\r') content = content[..^1];
        if (_canon == DkimCanonicalization.Relaxed) content = content.TrimEnd(" \t"u8);
        if (content.Length == 0 && !_lineStarted)
        {
            _pendingEmptyLines++;
            _pendingSpace = false;
            return;
        }
        if (_pendingEmptyLines > 0) FlushEmptyLines();
        if (_canon == DkimCanonicalization.Simple) Emit(content);
        else EmitRelaxed(content);
        Emit("\r\n"u8);
        _lineStarted = false;
        _pendingSpace = false;
    }

    /// <summary>Hashes the start of an over-long line, keeping what may still change (a final CR, trailing white space).</summary>
    private void FlushPartialLine()
    {
        ReadOnlySpan<byte> c = _carry.AsSpan(0, _carryLength);
        int keep = 0;
        if (c[^1] == '\r') keep = 1;
        if (_canon == DkimCanonicalization.Relaxed)
        {
            int i = c.Length - keep;
            while (i > 0 && c[i - 1] is (byte)' ' or (byte)'\t') i--;
            keep = c.Length - i;
        }
        ReadOnlySpan<byte> flush = c[..^keep];
        if (flush.Length == 0)
        {
            // Only white space so far (relaxed): it can only become one SP or nothing.
            bool cr = c[^1] == '\r';
            _carry[0] = (byte)' ';
            if (cr) _carry[1] = (byte)'\r';
            _carryLength = cr ? 2 : 1;
            return;
        }
        if (_pendingEmptyLines > 0) FlushEmptyLines();
        if (_canon == DkimCanonicalization.Simple) Emit(flush);
        else EmitRelaxed(flush);
        _lineStarted = true;
        byte[] rest = c[^keep..].ToArray();
        rest.CopyTo(_carry, 0);
        _carryLength = rest.Length;
    }

    /// <summary>Relaxed: runs of WSP become one SP (RFC 6376 §3.4.4); trailing WSP is already removed.</summary>
    private void EmitRelaxed(ReadOnlySpan<byte> content)
    {
        Span<byte> sp = [(byte)' '];
        while (content.Length > 0)
        {
            int w = content.IndexOfAny(Wsp);
            if (w < 0)
            {
                if (_pendingSpace) { Emit(sp); _pendingSpace = false; }
                Emit(content);
                return;
            }
            if (w > 0)
            {
                if (_pendingSpace) { Emit(sp); _pendingSpace = false; }
                Emit(content[..w]);
            }
            int e = w;
            while (e < content.Length && content[e] is (byte)' ' or (byte)'\t') e++;
            _pendingSpace = true;
            content = content[e..];
        }
    }

    private void FlushEmptyLines()
    {
        while (_pendingEmptyLines > 0)
        {
            _pendingEmptyLines--;
            Emit("\r\n"u8);
        }
    }

    private void Emit(ReadOnlySpan<byte> data)
    {
        CanonicalLength += data.Length;
        if (_hashed >= _limit) return;
        if (_hashed + data.Length > _limit) data = data[..(int)(_limit - _hashed)];
        _hash.AppendData(data);
        _hashed += data.Length;
    }

    private void AddCarry(ReadOnlySpan<byte> data)
    {
        if (_carryLength + data.Length > _carry.Length)
            Array.Resize(ref _carry, Math.Max(_carry.Length * 2, _carryLength + data.Length));
        data.CopyTo(_carry.AsSpan(_carryLength));
        _carryLength += data.Length;
    }

    /// <summary>Canonicalises and hashes a whole body at once.</summary>
    public static byte[] Hash(DkimCanonicalization canonicalization, HashAlgorithmName hash, ReadOnlySpan<byte> body, long lengthLimit = long.MaxValue)
    {
        using var h = new DkimBodyHasher(canonicalization, hash, lengthLimit);
        h.Append(body);
        return h.Finish();
    }
}
