using System.Buffers;

namespace Postern.Mail;

// Design: a push parser over the raw bytes, fed in chunks of any size. It works line by
// line only where structure can appear: header lines (buffered up to the header limit)
// and body lines that may be boundary delimiters. Body lines are never kept; in bodies
// with no active boundary the parser only counts line feeds (vectorised), and inside
// multiparts it jumps from one "\n--" to the next. Every part records absolute offsets
// (header start, body start, end) and line counts, so memory is bounded by the limits
// (header block, part count), never by the message size. Limits degrade to opaque body,
// never to an exception.

/// <summary>
/// Streaming parser of an Internet message (RFC 5322) and its MIME structure (RFC 2045-2049).
/// Call <see cref="Append"/> with consecutive chunks, then <see cref="Complete"/>.
/// </summary>
public sealed class MessageParser
{
    private sealed class BoundaryFrame(MessagePart part, byte[] delimiter, int openIndex)
    {
        public MessagePart Part { get; } = part;
        public byte[] Delimiter { get; } = delimiter; // "--" + boundary
        public int OpenIndex { get; } = openIndex;
        public bool SawDelimiter { get; set; }
    }

    private readonly MessageLimits _limits;
    private readonly List<MessagePart> _open = [];
    private readonly List<BoundaryFrame> _frames = [];
    private readonly List<ParseWarning> _warnings = [];
    private readonly ArrayBufferWriter<byte> _header = new(1024);
    private readonly PreviewCapture _preview = new();
    private byte[] _pending = new byte[128];
    private int _pendingLen;      // bytes kept of the current partial line
    private long _pendingTotal;   // total bytes of the current partial line
    private long _pos;            // absolute offset of the next byte to be appended
    private long _lineCount;      // line feeds seen before _pos (complete lines processed)
    private int _prevTermLen;     // terminator length of the last complete line
    private bool _prevContentNonEmpty;
    private byte _lastByte = (byte)'\n';
    private bool _inHeader = true;
    private int _headerFields;
    private int _partCount = 1;
    private bool _completed;
    private bool _sawNul;
    private readonly MessagePart _root;
    private MessageStructure? _result;

    /// <summary>Creates a parser with the given limits (default: <see cref="MessageLimits.Default"/>).</summary>
    public MessageParser(MessageLimits? limits = null)
    {
        _limits = limits ?? MessageLimits.Default;
        _root = new MessagePart { HeaderStart = 0 };
        _open.Add(_root);
    }

    /// <summary>Bytes appended so far.</summary>
    public long Length => _pos;

    /// <summary>Feeds the next chunk of the raw message.</summary>
    public void Append(ReadOnlySpan<byte> chunk)
    {
        if (_completed) throw new InvalidOperationException("The parser is already completed.");
        if (!_sawNul && chunk.Contains((byte)0))
        {
            _sawNul = true;
            _warnings.Add(new ParseWarning(ParseWarningKind.NulBytes, _pos + chunk.IndexOf((byte)0)));
        }
        long chunkStart = _pos;
        int i = 0;
        while (i < chunk.Length)
        {
            if (_pendingTotal == 0 && !_inHeader)
            {
                if (_frames.Count == 0)
                {
                    // No boundary can end this body: only count lines.
                    var rest = chunk[i..];
                    _lineCount += rest.Count((byte)'\n');
                    TrackLastLine(rest);
                    _pos += rest.Length;
                    i = chunk.Length;
                    break;
                }
                if (!StartsLikeDelimiter(chunk[i..]))
                {
                    // Skip whole lines up to the next line starting with "--".
                    var rest = chunk[i..];
                    int k = rest.IndexOf("\n--"u8);
                    int skip = k >= 0 ? k + 1 : rest.LastIndexOf((byte)'\n') + 1;
                    if (skip > 0)
                    {
                        var region = rest[..skip];
                        _lineCount += region.Count((byte)'\n');
                        TrackLastLine(region);
                        _pos += skip;
                        i += skip;
                        continue;
                    }
                }
            }
            var remaining = chunk[i..];
            int nl = remaining.IndexOf((byte)'\n');
            if (nl < 0)
            {
                AddPending(remaining);
                _pos += remaining.Length;
                break;
            }
            var line = remaining[..(nl + 1)];
            long lineStart;
            if (_pendingTotal == 0)
            {
                lineStart = _pos;
                _pos += line.Length;
                ProcessLine(Cap(line), line.Length > CapLength, lineStart, line.Length, line.Length >= 2 && line[^2] == (byte)'\r' ? 2 : 1);
            }
            else
            {
                byte beforeLf = line.Length >= 2 ? line[^2] : _pendingTail;
                AddPending(line);
                _pos += line.Length;
                lineStart = _pos - _pendingTotal;
                bool truncated = _pendingTotal > _pendingLen;
                long total = _pendingTotal;
                var kept = _pending.AsSpan(0, _pendingLen);
                _pendingLen = 0;
                _pendingTotal = 0;
                ProcessLine(kept, truncated, lineStart, total, beforeLf == (byte)'\r' ? 2 : 1);
            }
            i += line.Length;
        }
        _preview.Capture(chunk, chunkStart);
        if (chunk.Length > 0) _lastByte = chunk[^1];
    }

    /// <summary>Ends the input and returns the structure. Never throws for malformed input.</summary>
    public MessageStructure Complete()
    {
        if (_result is not null) return _result;
        _completed = true;
        if (_pendingTotal > 0)
        {
            long lineStart = _pos - _pendingTotal;
            bool truncated = _pendingTotal > _pendingLen;
            long total = _pendingTotal;
            var kept = _pending.AsSpan(0, _pendingLen).ToArray();
            _pendingLen = 0;
            _pendingTotal = 0;
            ProcessLine(kept, truncated, lineStart, total, 0);
        }
        // An embedded message/rfc822 opened at the very end starts another (empty) header
        // section; each round opens at most one, bounded by the depth and part limits.
        while (_inHeader)
        {
            if (_pos > Top.HeaderStart) _warnings.Add(new ParseWarning(ParseWarningKind.MissingHeaderSeparator, _pos));
            EndHeaders(_pos, _lineCount);
        }
        foreach (var f in _frames)
            if (f.SawDelimiter) _warnings.Add(new ParseWarning(ParseWarningKind.MissingCloseDelimiter, _pos));
        bool lastNonEmpty = _pos > 0 && _lastByte != (byte)'\n';
        CloseFrom(0, _pos, _lineCount, lastNonEmpty);
        _frames.Clear();
        MessageStructure.AssignSections(_root);
        // Ordered by offset (stable), so the result does not depend on how input was chunked.
        var warnings = _warnings.Count <= 1 ? _warnings.ToArray() : _warnings.OrderBy(w => w.Offset).ToArray();
        _result = new MessageStructure(_root, _pos, warnings, _preview.Build());
        return _result;
    }

    private MessagePart Top => _open[^1];

    private int CapLength => _inHeader ? _limits.MaxHeaderBlockBytes + 2 : _limits.MaxLineBytes;

    private ReadOnlySpan<byte> Cap(ReadOnlySpan<byte> line) => line.Length > CapLength ? line[..CapLength] : line;

    private void AddPending(ReadOnlySpan<byte> data)
    {
        int room = CapLength - _pendingLen;
        int take = Math.Max(0, Math.Min(room, data.Length));
        if (take > 0)
        {
            if (_pending.Length < _pendingLen + take) Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLen + take));
            data[..take].CopyTo(_pending.AsSpan(_pendingLen));
            _pendingLen += take;
        }
        _pendingTotal += data.Length;
        if (data.Length > 0) _pendingTail = data[^1];
    }

    private byte _pendingTail;

    private static bool StartsLikeDelimiter(ReadOnlySpan<byte> s) =>
        s.Length < 2 || (s[0] == (byte)'-' && s[1] == (byte)'-');

    // Updates the "previous line" facts from a region that ends with a line feed.
    private void TrackLastLine(ReadOnlySpan<byte> region)
    {
        if (region.Length == 0 || region[^1] != (byte)'\n')
        {
            // Fast path without boundaries: the last line may be partial; only EOF uses it.
            return;
        }
        bool cr = region.Length >= 2 && region[^2] == (byte)'\r';
        int prevLf = region[..^1].LastIndexOf((byte)'\n');
        int contentLen = region.Length - 1 - (cr ? 1 : 0) - (prevLf + 1);
        _prevTermLen = cr ? 2 : 1;
        _prevContentNonEmpty = contentLen > 0;
    }

    // line: kept bytes (including the terminator unless truncated); total: full length of the
    // line; termLen: length of its terminator in the raw bytes (0 at end of input).
    private void ProcessLine(ReadOnlySpan<byte> line, bool truncated, long lineStart, long total, int termLen)
    {
        var content = truncated ? line : line[..(line.Length - termLen)];
        long lfAfter = _lineCount + (termLen > 0 ? 1 : 0);

        if (!truncated && MatchBoundary(content, out int frameIndex, out bool isClose))
        {
            // A delimiter ends any header section in progress, including that of an
            // embedded message the ended header just opened.
            while (_inHeader) EndHeaders(lineStart, _lineCount);
            HandleBoundary(frameIndex, isClose, lineStart, total, lfAfter, termLen);
            return;
        }
        if (_inHeader)
        {
            if (content.Length == 0)
            {
                _header.Write(line);
                Advance(lfAfter, termLen, false);
                EndHeaders(lineStart + total, lfAfter);
                return;
            }
            bool continuation = content[0] is (byte)' ' or (byte)'\t';
            if (!continuation && !IsHeaderLine(content))
            {
                _warnings.Add(new ParseWarning(ParseWarningKind.InvalidHeaderLine, lineStart));
                EndHeaders(lineStart, _lineCount);
                if (_inHeader)
                {
                    // The header just ended opened an embedded message: this line is its first.
                    ProcessLine(line, truncated, lineStart, total, termLen);
                    return;
                }
                _preview.Capture(line, lineStart, cut: truncated);
                Advance(lfAfter, termLen, content.Length > 0);
                return;
            }
            if (truncated || _header.WrittenCount + total > _limits.MaxHeaderBlockBytes)
            {
                _warnings.Add(new ParseWarning(ParseWarningKind.HeaderBlockTooLarge, lineStart));
                EndHeaders(lineStart, _lineCount);
                if (_inHeader)
                {
                    // The header just ended opened an embedded message: this line is its first.
                    ProcessLine(line, truncated, lineStart, total, termLen);
                    return;
                }
                _preview.Capture(line, lineStart, cut: truncated);
                Advance(lfAfter, termLen, content.Length > 0);
                return;
            }
            if (!continuation && ++_headerFields > _limits.MaxHeaderFields)
            {
                _warnings.Add(new ParseWarning(ParseWarningKind.TooManyHeaderFields, lineStart));
                EndHeaders(lineStart, _lineCount);
                if (_inHeader)
                {
                    // The header just ended opened an embedded message: this line is its first.
                    ProcessLine(line, truncated, lineStart, total, termLen);
                    return;
                }
                _preview.Capture(line, lineStart, cut: truncated);
                Advance(lfAfter, termLen, content.Length > 0);
                return;
            }
            _header.Write(line);
            Advance(lfAfter, termLen, content.Length > 0);
            return;
        }
        Advance(lfAfter, termLen, content.Length > 0 || truncated);
    }

    private void Advance(long lfAfter, int termLen, bool contentNonEmpty)
    {
        _lineCount = lfAfter;
        _prevTermLen = termLen;
        _prevContentNonEmpty = contentNonEmpty;
    }

    // RFC 5322 §2.2 field name then ":" (obsolete WSP before the colon accepted, §4.5), or an mbox "From " line.
    private static bool IsHeaderLine(ReadOnlySpan<byte> content)
    {
        if (content.StartsWith("From "u8)) return true;
        int colon = content.IndexOf((byte)':');
        if (colon < 0) return false;
        var name = content[..colon];
        int e = name.Length;
        while (e > 0 && name[e - 1] is (byte)' ' or (byte)'\t') e--;
        return HeaderList.IsFieldName(name[..e]);
    }

    // RFC 2046 §5.1.1: delimiter "--" boundary, close-delimiter adds "--"; trailing LWSP allowed.
    private bool MatchBoundary(ReadOnlySpan<byte> content, out int frameIndex, out bool isClose)
    {
        frameIndex = -1;
        isClose = false;
        if (_frames.Count == 0 || content.Length < 3 || content[0] != (byte)'-' || content[1] != (byte)'-') return false;
        for (int i = _frames.Count - 1; i >= 0; i--)
        {
            var d = _frames[i].Delimiter;
            if (!content.StartsWith(d)) continue;
            var rest = content[d.Length..];
            bool close = rest.StartsWith("--"u8);
            if (close) rest = rest[2..];
            if (rest.TrimEnd(" \t\r"u8).Length != 0) continue;
            frameIndex = i;
            isClose = close;
            return true;
        }
        return false;
    }

    private void HandleBoundary(int frameIndex, bool isClose, long lineStart, long total, long lfAfter, int termLen)
    {
        if (!isClose && _partCount >= _limits.MaxParts)
        {
            // Over the limit the rest, this delimiter included, is opaque body of the current part.
            _warnings.Add(new ParseWarning(ParseWarningKind.TooManyParts, lineStart));
            _frames.Clear();
            Advance(lfAfter, termLen, true);
            return;
        }
        var frame = _frames[frameIndex];
        // The line break before the delimiter belongs to it (RFC 2046 §5.1.1).
        long end = lineStart - _prevTermLen;
        long lfBeforeEnd = _lineCount - (_prevTermLen > 0 ? 1 : 0);
        for (int i = _frames.Count - 1; i > frameIndex; i--)
        {
            _warnings.Add(new ParseWarning(ParseWarningKind.MissingCloseDelimiter, lineStart));
            _frames.RemoveAt(i);
        }
        CloseFrom(frame.OpenIndex + 1, end, lfBeforeEnd, _prevContentNonEmpty);
        Advance(lfAfter, termLen, false);
        if (isClose)
        {
            _frames.RemoveAt(frameIndex);
            _inHeader = false;
            return;
        }
        frame.SawDelimiter = true;
        _partCount++;
        var child = new MessagePart { HeaderStart = lineStart + total };
        if (frame.Part.MediaSubtype == "digest") { child.MediaType = "message"; child.MediaSubtype = "rfc822"; } // RFC 2046 §5.1.5
        (frame.Part.ChildList ??= []).Add(child);
        _open.Add(child);
        StartHeaders();
    }

    private void StartHeaders()
    {
        _inHeader = true;
        _headerFields = 0;
        _header.ResetWrittenCount();
    }

    // Closes open parts from index `from` to the top, all ending at `end`.
    private void CloseFrom(int from, long end, long lfBeforeEnd, bool lastLineNonEmpty)
    {
        // Degenerate input (an empty part right before an enclosing delimiter) can put a child's
        // start past `end`; the enclosing parts are stretched over it so offsets always nest.
        long innerEnd = 0;
        for (int i = _open.Count - 1; i >= from; i--)
        {
            var p = _open[i];
            if (end <= p.BodyStart)
            {
                p.End = Math.Max(p.BodyStart, innerEnd);
                p.BodyLines = 0;
            }
            else
            {
                p.End = Math.Max(end, innerEnd);
                p.BodyLines = lfBeforeEnd - p.LfAtBodyStart + (lastLineNonEmpty ? 1 : 0);
                if (p.BodyLines < 0) p.BodyLines = 0;
            }
            innerEnd = p.End;
            if (p.ChildList is not null) p.Children = p.ChildList;
            _open.RemoveAt(i);
        }
        if (_open.Count > 0) _inHeader = false;
    }

    private void EndHeaders(long bodyStart, long lfAtBodyStart)
    {
        var part = Top;
        _inHeader = false;
        part.BodyStart = bodyStart;
        part.LfAtBodyStart = lfAtBodyStart;
        var headers = HeaderList.Parse(new ReadOnlyMemory<byte>(_header.WrittenSpan.ToArray()), _limits.MaxHeaderFields);
        _header.ResetWrittenCount();
        PartHeaderReader.Apply(part, headers, _limits);
        bool isMessage = part == _root || (_open.Count >= 2 && _open[^2].EmbeddedMessage == part);
        if (isMessage) part.Envelope = Envelope.FromHeaders(headers);
        if (part == _root) _rootHeaders = headers;
        _preview.Consider(part);

        if (part.IsMultipart)
        {
            var boundary = part.Boundary;
            if (string.IsNullOrEmpty(boundary))
            {
                _warnings.Add(new ParseWarning(ParseWarningKind.MissingBoundary, bodyStart));
                return;
            }
            if (_open.Count >= _limits.MaxDepth)
            {
                _warnings.Add(new ParseWarning(ParseWarningKind.TooDeep, bodyStart));
                return;
            }
            var delim = new byte[2 + System.Text.Encoding.UTF8.GetByteCount(boundary)];
            delim[0] = delim[1] = (byte)'-';
            System.Text.Encoding.UTF8.GetBytes(boundary, delim.AsSpan(2));
            _frames.Add(new BoundaryFrame(part, delim, _open.Count - 1));
            return;
        }
        if (part.MediaType == "message" && part.MediaSubtype is "rfc822" or "global"
            && part.ContentTransferEncoding is null or "7bit" or "8bit" or "binary")
        {
            if (_open.Count >= _limits.MaxDepth) { _warnings.Add(new ParseWarning(ParseWarningKind.TooDeep, bodyStart)); return; }
            if (_partCount >= _limits.MaxParts) { _warnings.Add(new ParseWarning(ParseWarningKind.TooManyParts, bodyStart)); return; }
            _partCount++;
            var embedded = new MessagePart { HeaderStart = bodyStart };
            part.EmbeddedMessage = embedded;
            _open.Add(embedded);
            StartHeaders();
        }
    }

    private HeaderList? _rootHeaders;

    /// <summary>The top-level header fields, available once the header section has been parsed.</summary>
    public HeaderList? RootHeaders => _rootHeaders;
}
