// Decoding of message data sent with DATA (RFC 5321 §4.1.1.4, §4.5.2): lines are delimited by
// CRLF, a leading dot is removed (dot-stuffing), and the data ends with the line ".". Only
// CRLF "." CRLF ends the data. Any LF not preceded by CR, and any CR not followed by LF, is
// refused (RFC 5321 §2.3.8) instead of being tolerated: servers that accept "\n.\n", "\r.\r",
// "\n.\r\n" or "\r\n.\n" as an end of data where the next hop does not can be made to split one
// message into two (SMTP smuggling, CVE-2023-51764/51765/51766).
using System.Buffers;

namespace Postern.Smtp.Protocol;

/// <summary>Where decoded message bytes go.</summary>
public interface IMessageSink
{
    /// <summary>Appends decoded bytes (whole lines with CRLF, or pieces of them).</summary>
    void Write(ReadOnlySpan<byte> bytes);
}

/// <summary>What a decoding step found.</summary>
public enum DataStatus
{
    /// <summary>More input is needed.</summary>
    NeedMore,
    /// <summary>The terminating CRLF.CRLF was consumed.</summary>
    Complete,
    /// <summary>A LF without CR: refused, and the connection must be closed.</summary>
    BareLineFeed,
    /// <summary>A CR without LF: refused, and the connection must be closed.</summary>
    BareCarriageReturn,
}

/// <summary>Incremental, resumable DATA decoder. One per message.</summary>
public sealed class DotDataDecoder(int maxLineLength)
{
    private static readonly byte[] Crlf = "\r\n"u8.ToArray();
    private bool _skippingLongLine;

    /// <summary>Whether a line longer than the limit was met (its bytes were dropped; the message must be refused at the end).</summary>
    public bool LineTooLong { get; private set; }

    /// <summary>
    /// Decodes as much of <paramref name="buffer"/> as forms complete lines, writing message bytes to
    /// <paramref name="sink"/>, and slices <paramref name="buffer"/> to what is left for the next call.
    /// </summary>
    public DataStatus Decode(ref ReadOnlySequence<byte> buffer, IMessageSink sink)
    {
        var reader = new SequenceReader<byte>(buffer);
        try
        {
            while (true)
            {
                if (!_skippingLongLine && !LineTooLong)
                {
                    // The common case, ordinary lines within one buffer segment, goes in runs (see DecodeRuns);
                    // what it leaves (a line across segments, anything unusual) takes the line-by-line path below.
                    bool complete = DecodeRuns(reader.UnreadSpan, sink, out int consumed);
                    reader.Advance(consumed);
                    if (complete)
                        return DataStatus.Complete;
                }
                if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n', advancePastDelimiter: true))
                    break;
                // line excludes the LF; it must end with the CR of CRLF.
                if (line.Length == 0 || LastByte(line) != '\r')
                    return DataStatus.BareLineFeed;
                ReadOnlySequence<byte> content = line.Slice(0, line.Length - 1);
                if (content.PositionOf((byte)'\r') is not null)
                    return DataStatus.BareCarriageReturn;
                if (_skippingLongLine)
                {
                    _skippingLongLine = false;
                    continue;
                }
                if (line.Length + 1 > maxLineLength)
                {
                    LineTooLong = true;
                    continue;
                }
                if (content.Length > 0 && FirstByte(content) == '.')
                {
                    if (content.Length == 1)
                        return DataStatus.Complete;
                    content = content.Slice(1);
                }
                if (!LineTooLong)
                {
                    WriteSequence(content, sink);
                    sink.Write(Crlf);
                }
            }
            // No complete line left. A partial line longer than the limit is dropped as it comes
            // (memory stays bounded); a CR inside it that is not its last byte is already bare.
            ReadOnlySequence<byte> rest = reader.UnreadSequence;
            if (rest.Length == 0)
                return DataStatus.NeedMore;
            long keep = LastByte(rest) == '\r' ? 1 : 0;
            if (rest.Slice(0, rest.Length - keep).PositionOf((byte)'\r') is not null)
                return DataStatus.BareCarriageReturn;
            if (rest.Length > maxLineLength)
            {
                LineTooLong = true;
                _skippingLongLine = true;
                reader.Advance(rest.Length - keep);
            }
            return DataStatus.NeedMore;
        }
        finally
        {
            buffer = buffer.Slice(reader.Position);
        }
    }

    /// <summary>
    /// Decodes the complete, ordinary lines at the start of <paramref name="span"/> (CRLF-terminated, no other CR
    /// or LF, within the length limit), writing each run of lines between dot-stuffed ones to the sink in one call.
    /// Stops before the first line that is incomplete or unusual, which the caller handles line by line, so every
    /// refusal keeps one code path. Returns true when it consumed the terminating ".".
    /// </summary>
    private bool DecodeRuns(ReadOnlySpan<byte> span, IMessageSink sink, out int consumed)
    {
        int pos = 0;
        int runStart = 0;
        bool complete = false;
        while (pos < span.Length)
        {
            ReadOnlySpan<byte> rest = span[pos..];
            int cr = rest.IndexOfAny((byte)'\r', (byte)'\n');
            // Incomplete, a bare LF or CR, or too long (RFC 5321 §4.5.3.1.6): left to the line-by-line path.
            if (cr < 0 || rest[cr] != '\r' || cr + 1 >= rest.Length || rest[cr + 1] != '\n' || cr + 2 > maxLineLength)
                break;
            if (rest[0] == '.')
            {
                // RFC 5321 §4.5.2: a leading dot is removed; "." alone ends the data.
                sink.Write(span[runStart..pos]);
                if (cr == 1)
                {
                    pos += 3;
                    runStart = pos;
                    complete = true;
                    break;
                }
                runStart = pos + 1;
            }
            pos += cr + 2;
        }
        if (pos > runStart)
            sink.Write(span[runStart..pos]);
        consumed = pos;
        return complete;
    }

    private static byte FirstByte(in ReadOnlySequence<byte> s) => s.FirstSpan.Length > 0 ? s.FirstSpan[0] : s.Slice(0, 1).ToArray()[0];

    private static byte LastByte(in ReadOnlySequence<byte> s) => s.Slice(s.Length - 1).FirstSpan[0];

    private static void WriteSequence(in ReadOnlySequence<byte> s, IMessageSink sink)
    {
        if (s.IsSingleSegment)
        {
            sink.Write(s.FirstSpan);
            return;
        }
        foreach (ReadOnlyMemory<byte> m in s)
            sink.Write(m.Span);
    }
}

/// <summary>
/// Checks BDAT chunks of a non-BINARYMIME message (RFC 3030 §3: such a body is still made of
/// CRLF-terminated lines): bare CR, bare LF and overlong lines are refused as under DATA, so a
/// message accepted through BDAT cannot smuggle a second message when it is relayed with DATA.
/// </summary>
public sealed class BdatLineChecker(int maxLineLength)
{
    private bool _pendingCr;
    private long _lineLength;

    /// <summary>Whether a line longer than the limit was seen.</summary>
    public bool LineTooLong { get; private set; }

    /// <summary>Checks the next bytes; returns <see cref="DataStatus.NeedMore"/> when they are fine.</summary>
    public DataStatus Check(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            if (_pendingCr && b != '\n')
                return DataStatus.BareCarriageReturn;
            if (b == '\n')
            {
                if (!_pendingCr)
                    return DataStatus.BareLineFeed;
                _pendingCr = false;
                _lineLength = 0;
                continue;
            }
            _pendingCr = b == '\r';
            if (++_lineLength + 1 > maxLineLength)
                LineTooLong = true;
        }
        return DataStatus.NeedMore;
    }

    /// <summary>At the end of the message (BDAT LAST): a trailing CR is bare.</summary>
    public DataStatus Finish() => _pendingCr ? DataStatus.BareCarriageReturn : DataStatus.Complete;
}
