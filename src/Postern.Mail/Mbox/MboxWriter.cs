using System.Text;

namespace Postern.Mail.Mbox;

/// <summary>
/// Writes messages to an mbox file in the mboxrd variant, with Postern's flag block at the top
/// of each message (see <see cref="MboxFlagHeaders"/>), so that <see cref="MboxReader"/> gives
/// back the same bytes and flags.
/// </summary>
/// <remarks>
/// Stored messages use CRLF; the file uses LF as mbox files on Unix do, and reading converts
/// back. A bare LF in a stored message therefore comes back as CRLF; stored messages do not
/// hold bare LFs (delivery and import normalise them). A CR before a line ending is written as
/// is ("\r\r\n" becomes "\r\n"); the reader, seeing Postern's flag block, knows that every
/// line ending in the file is a single LF and keeps such a CR as content. Every line matching <c>^&gt;*From </c>
/// gets one more '&gt;' (mboxrd), counted while streaming so a run of any length is exact.
/// </remarks>
public sealed class MboxWriter : IDisposable
{
    private const int BufferBytes = 64 * 1024;

    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly byte[] _in = new byte[BufferBytes];
    private readonly byte[] _outBuf = new byte[BufferBytes];
    private int _outLen;

    /// <summary>Creates a writer appending to <paramref name="output"/>.</summary>
    public MboxWriter(Stream output, bool leaveOpen = false)
    {
        _output = output;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Writes one message.</summary>
    /// <param name="message">The message bytes from their start; must be seekable (its last byte is looked at first).</param>
    /// <param name="envelopeSender">The sender for the "From " line; "MAILER-DAEMON" when null.</param>
    /// <param name="received">The time for the "From " line (the message's internal date).</param>
    /// <param name="flags">IMAP flags to record.</param>
    public void WriteMessage(Stream message, string? envelopeSender, DateTimeOffset received, IEnumerable<string> flags)
    {
        if (!message.CanSeek)
            throw new ArgumentException("the message stream must be seekable", nameof(message));
        long start = message.Position;
        long length = message.Length - start;
        bool endsWithNewline = true;
        if (length > 0)
        {
            message.Seek(-1, SeekOrigin.End);
            endsWithNewline = message.ReadByte() == '\n';
            message.Position = start;
        }
        WriteAscii(MboxFromLine.Format(envelopeSender, received));
        WriteAscii("\n");
        WriteAscii(MboxFlagHeaders.FormatBlock(flags, endsWithNewline));
        CopyQuoted(message);
        // RFC 4155 §2: the message ends with a line break, and a blank line precedes the next separator.
        WriteAscii(endsWithNewline ? "\n" : "\n\n");
        FlushBuffer();
    }

    /// <summary>Writes one message held in memory.</summary>
    public void WriteMessage(ReadOnlyMemory<byte> message, string? envelopeSender, DateTimeOffset received, IEnumerable<string> flags)
    {
        using var stream = new MemoryStream(message.ToArray(), writable: false);
        WriteMessage(stream, envelopeSender, received, flags);
    }

    /// <summary>Flushes buffered output to the underlying stream.</summary>
    public void Flush()
    {
        FlushBuffer();
        _output.Flush();
    }

    private void CopyQuoted(Stream message)
    {
        int start = 0, end = 0;
        bool eof = false;
        bool atLineStart = true;
        while (true)
        {
            if (start == end)
            {
                if (eof || !Fill())
                    return;
            }
            if (atLineStart && _in[start] == (byte)'>' || atLineStart && _in[start] == (byte)'F')
            {
                long run = 0;
                while (true)
                {
                    int n = _in.AsSpan(start, end - start).IndexOfAnyExcept((byte)'>');
                    if (n >= 0)
                    {
                        run += n;
                        start += n;
                        break;
                    }
                    run += end - start;
                    start = end;
                    if (!Fill())
                        break;
                }
                while (end - start < 5 && Fill())
                {
                }
                // mboxrd: quote every line matching ^>*From
                if (_in.AsSpan(start, end - start).StartsWith("From "u8))
                    run++;
                WriteRepeat((byte)'>', run);
            }
            atLineStart = false;
            var span = _in.AsSpan(start, end - start);
            int nl = span.IndexOf((byte)'\n');
            if (nl >= 0)
            {
                bool crlf = nl > 0 && span[nl - 1] == (byte)'\r';
                Write(span[..(crlf ? nl - 1 : nl)]);
                Write("\n"u8);
                start += nl + 1;
                atLineStart = true;
                continue;
            }
            int take = span.Length > 0 && span[^1] == (byte)'\r' && !eof ? span.Length - 1 : span.Length;
            Write(span[..take]);
            start += take;
            if (!Fill() && start < end)
            {
                Write(_in.AsSpan(start, end - start));
                start = end;
            }
        }

        bool Fill()
        {
            if (eof)
                return false;
            if (start > 0)
            {
                Buffer.BlockCopy(_in, start, _in, 0, end - start);
                end -= start;
                start = 0;
            }
            if (end == _in.Length)
                return true;
            int n = message.Read(_in, end, _in.Length - end);
            if (n == 0)
            {
                eof = true;
                return false;
            }
            end += n;
            return true;
        }
    }

    private void WriteAscii(string text) => Write(Encoding.UTF8.GetBytes(text));

    private void WriteRepeat(byte value, long count)
    {
        Span<byte> chunk = stackalloc byte[256];
        chunk.Fill(value);
        while (count > 0)
        {
            int n = (int)Math.Min(count, chunk.Length);
            Write(chunk[..n]);
            count -= n;
        }
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        if (_outLen + bytes.Length > _outBuf.Length)
        {
            FlushBuffer();
            if (bytes.Length > _outBuf.Length)
            {
                _output.Write(bytes);
                return;
            }
        }
        bytes.CopyTo(_outBuf.AsSpan(_outLen));
        _outLen += bytes.Length;
    }

    private void FlushBuffer()
    {
        if (_outLen > 0)
            _output.Write(_outBuf, 0, _outLen);
        _outLen = 0;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Flush();
        if (!_leaveOpen)
            _output.Dispose();
    }
}
