namespace Postern.Mail.Mbox;

/// <summary>
/// Reads the messages of an mbox file one at a time, streaming each into a stream the caller
/// provides, so that neither a large file nor a single huge message is ever held in memory.
/// </summary>
/// <remarks>
/// Design: one fixed buffer, walked line by line. Only the start of a line needs a look
/// ahead — to tell a "From " separator (RFC 4155 §2) from body text, or to recognise Postern's
/// flag block — and that look ahead is bounded by <see cref="MaxFromLineBytes"/>; the rest of a
/// line, however long, is copied through in buffer-sized pieces. Runs of '&gt;' before "From "
/// are counted rather than buffered, so un-quoting is exact whatever their length.
/// Anything that is not a message (data before the first separator, an empty or oversized
/// message) comes back as an entry with <see cref="MboxEntry.Problem"/> set and its position,
/// and reading continues with the next message.
/// </remarks>
public sealed class MboxReader : IDisposable
{
    /// <summary>Longest line that can be a "From " separator; longer lines are body text.</summary>
    public const int MaxFromLineBytes = 4096;

    private const int BufferBytes = 256 * 1024;

    private readonly Stream _input;
    private readonly MboxReadOptions _options;
    private readonly bool _leaveOpen;
    private readonly byte[] _buf = new byte[BufferBytes];
    private readonly MboxMessageOutput _out = new();
    private int _start;
    private int _end;
    private bool _eof;
    private long _bufFileOffset;
    private long _line = 1;
    private bool _begun;
    private Separator? _next;

    private sealed record Separator(long Offset, long Line, string? Sender, DateTimeOffset? Date);

    /// <summary>Creates a reader over <paramref name="input"/>, read from its current position.</summary>
    /// <param name="input">The mbox data.</param>
    /// <param name="options">Format and limits; defaults when null.</param>
    /// <param name="leaveOpen">Leave <paramref name="input"/> open when the reader is disposed.</param>
    public MboxReader(Stream input, MboxReadOptions? options = null, bool leaveOpen = false)
    {
        _input = input;
        _options = options ?? new MboxReadOptions();
        _leaveOpen = leaveOpen;
    }

    /// <summary>Bytes of the input consumed so far.</summary>
    public long Position => _bufFileOffset + _start;

    /// <summary>
    /// Reads the next entry, writing the message bytes to <paramref name="destination"/>.
    /// </summary>
    /// <returns>The entry, or null at the end of the file. When the entry's
    /// <see cref="MboxEntry.Problem"/> is set, discard what was written.</returns>
    public MboxEntry? ReadNext(Stream destination)
    {
        if (!_begun)
        {
            _begun = true;
            var skipped = ReadLeadingData();
            if (skipped is not null)
                return skipped;
        }
        if (_next is not { } from)
            return null;
        _next = null;
        _out.Begin(destination, _options, discard: false);
        CopyLinesUntilSeparator();
        var (length, flags, fromBlock, tooLarge) = _out.Finish();
        string? problem = null;
        if (tooLarge)
            problem = $"message larger than the limit of {_options.MaxMessageBytes} bytes ({length} bytes)";
        else if (length == 0)
            problem = "empty message";
        return new MboxEntry(from.Offset, from.Line, from.Sender, from.Date, problem is null ? length : 0, flags, fromBlock, problem);
    }

    /// <summary>Handles the start of the file: the first line must be a separator; anything before one is skipped and reported.</summary>
    private MboxEntry? ReadLeadingData()
    {
        if (_start == _end && !Fill())
            return null;
        if (TryGetWholeLine(out int contentLength, out int totalLength, out _, out _)
            && MboxFromLine.TryParse(_buf.AsSpan(_start, contentLength), requireDate: false, out var sender, out var date))
        {
            // The first line is a separator even without a readable date (RFC 4155 §2 expects one, not every writer adds it).
            _next = new Separator(0, 1, sender, date);
            Consume(totalLength);
            _line++;
            return null;
        }
        _out.Begin(null, _options, discard: true);
        CopyLinesUntilSeparator();
        var (length, _, _, _) = _out.Finish();
        string problem = _next is null
            ? $"not an mbox file: no \"From \" separator line found in {length} bytes"
            : $"{length} bytes before the first \"From \" separator line skipped";
        return new MboxEntry(0, 1, null, null, 0, [], false, problem);
    }

    private void CopyLinesUntilSeparator()
    {
        bool unquoteAny = _options.Format == MboxFormat.Mboxrd;
        bool unquoteOne = _options.Format is MboxFormat.Mboxo or MboxFormat.Mboxcl;
        while (true)
        {
            if (_start == _end && !Fill())
                return;
            long lineOffset = _bufFileOffset + _start;
            byte first = _buf[_start];
            if (first == (byte)'F' && lineOffset >= _out.SeparatorsAllowedFrom
                && TryGetWholeLine(out int contentLength, out int totalLength, out _, out _)
                && MboxFromLine.TryParse(_buf.AsSpan(_start, contentLength), requireDate: true, out var sender, out var date))
            {
                _next = new Separator(lineOffset, _line, sender, date);
                Consume(totalLength);
                _line++;
                return;
            }
            if (_out.FlagBlockPossible)
            {
                if (first != (byte)'>' && TryGetWholeLine(out int blockContent, out int blockTotal, out bool hasTerminator, out bool crlf, MboxMessageOutput.MaxFlagBlockLineBytes)
                    && _out.TryTakeFlagBlockLine(_buf.AsSpan(_start, blockContent), hasTerminator, crlf))
                {
                    Consume(blockTotal);
                    _line++;
                    continue;
                }
                _out.ResolveFlagBlock();
            }
            _out.StartLine();
            if (first == (byte)'>' && (unquoteAny || unquoteOne))
                CopyQuoteRun(unquoteAny);
            CopyRestOfLine();
        }
    }

    /// <summary>Copies a run of '&gt;' at the start of a line, less the one quoting character when "From " follows.</summary>
    private void CopyQuoteRun(bool unquoteAny)
    {
        long run = 0;
        while (_start < _end || Fill())
        {
            var span = _buf.AsSpan(_start, _end - _start);
            int n = span.IndexOfAnyExcept((byte)'>');
            if (n < 0)
            {
                run += span.Length;
                Consume(span.Length);
                continue;
            }
            run += n;
            Consume(n);
            break;
        }
        while (_end - _start < 5 && Fill())
        {
        }
        bool fromFollows = _buf.AsSpan(_start, _end - _start).StartsWith("From "u8);
        // mboxrd removes one '>' from any ">+From " line; mboxo (and mboxcl) only from ">From ".
        if (fromFollows && (unquoteAny || run == 1))
            run--;
        _out.ContentRepeat((byte)'>', run);
    }

    private void CopyRestOfLine()
    {
        while (true)
        {
            if (_start == _end && !Fill())
            {
                _out.EndLine(false, false, Position);
                return;
            }
            var span = _buf.AsSpan(_start, _end - _start);
            int nl = span.IndexOf((byte)'\n');
            if (nl >= 0)
            {
                bool crlf = nl > 0 && span[nl - 1] == (byte)'\r';
                _out.Content(span[..(crlf ? nl - 1 : nl)]);
                Consume(nl + 1);
                _line++;
                _out.EndLine(true, crlf, Position);
                return;
            }
            // Keep a final CR back: it may be the first half of a CRLF still unread.
            int take = span[^1] == (byte)'\r' && !_eof ? span.Length - 1 : span.Length;
            if (take > 0)
            {
                _out.Content(span[..take]);
                Consume(take);
            }
            if (!Fill() && _start < _end)
            {
                _out.Content(_buf.AsSpan(_start, _end - _start));
                Consume(_end - _start);
            }
        }
    }

    /// <summary>Makes the whole current line available in the buffer if it is at most <paramref name="maxLength"/> bytes.</summary>
    private bool TryGetWholeLine(out int contentLength, out int totalLength, out bool hasTerminator, out bool crlf, int maxLength = MaxFromLineBytes)
    {
        int searched = 0;
        while (true)
        {
            int available = _end - _start;
            int limit = Math.Min(available, maxLength + 1);
            int nl = _buf.AsSpan(_start + searched, limit - searched).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                nl += searched;
                crlf = nl > 0 && _buf[_start + nl - 1] == (byte)'\r';
                contentLength = crlf ? nl - 1 : nl;
                totalLength = nl + 1;
                hasTerminator = true;
                return contentLength <= maxLength;
            }
            searched = limit;
            if (available > maxLength || !Fill())
                break;
        }
        crlf = false;
        hasTerminator = false;
        contentLength = totalLength = _end - _start;
        return _eof && totalLength <= maxLength;
    }

    private void Consume(int count) => _start += count;

    /// <summary>Reads more input, moving unread bytes to the front first; false at the end of the input.</summary>
    private bool Fill()
    {
        if (_eof)
            return false;
        if (_start > 0 && (_start == _end || _end == _buf.Length || _start >= _buf.Length / 2))
        {
            Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
            _bufFileOffset += _start;
            _end -= _start;
            _start = 0;
        }
        if (_end == _buf.Length)
            return true;
        int n = _input.Read(_buf, _end, _buf.Length - _end);
        if (n == 0)
        {
            _eof = true;
            return false;
        }
        _end += n;
        return true;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (!_leaveOpen)
            _input.Dispose();
    }
}
