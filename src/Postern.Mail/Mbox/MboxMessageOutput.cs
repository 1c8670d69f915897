using System.Globalization;
using System.Text;

namespace Postern.Mail.Mbox;

/// <summary>
/// Receives the lines of one mbox message from <see cref="MboxReader"/> and writes them to the
/// caller's stream: line endings converted, the blank line that belongs to the next separator
/// dropped, the Postern flag block recognised and removed, flag fields read from the header.
/// </summary>
/// <remarks>
/// Line endings are written one line late: the terminator of the last line, and the one of a
/// following empty line, are held until more content arrives. When the message ends, the held
/// empty line is the separator's (RFC 4155 §2: a blank line precedes each "From " line) and is
/// dropped; with the flag block's no-final-newline mark the last terminator is dropped too.
/// </remarks>
internal sealed class MboxMessageOutput
{
    /// <summary>Header fields longer than this are copied but not inspected for flags.</summary>
    public const int MaxInspectedFieldBytes = 16 * 1024;

    /// <summary>Longest line of the Postern flag block that is recognised (a long X-Keywords line).</summary>
    public const int MaxFlagBlockLineBytes = 64 * 1024;

    private const int OutputBufferBytes = 64 * 1024;
    private static readonly byte[] Crlf = "\r\n"u8.ToArray();
    private static readonly byte[] Lf = "\n"u8.ToArray();
    private static readonly byte[] MarkerPrefix = Encoding.ASCII.GetBytes(MboxFlagHeaders.MarkerFieldName + ":");

    private readonly byte[] _outBuf = new byte[OutputBufferBytes];
    private int _outLen;
    private Stream? _destination;
    private bool _convertToCrlf;
    private long _maxBytes;
    private long _written;
    private bool _tooLarge;

    // Held line terminators (true = CRLF in the input), oldest first; at most two.
    private readonly bool[] _held = new bool[2];
    private int _heldCount;
    private bool _lineHasContent;
    private bool _lastLineEmpty;

    // Header inspection.
    private bool _inHeader;
    private readonly byte[] _lineAcc = new byte[MaxInspectedFieldBytes];
    private int _lineAccLen;
    private bool _lineAccOverflow;
    private readonly StringBuilder _field = new();
    private bool _fieldUsable;
    private readonly FlagSetBuilder _flags = new();
    private bool _flagsFromBlock;
    private long? _contentLength;
    private bool _readContentLength;

    // Flag block recognition: the first four lines are held until they are known.
    private enum BlockState { FirstLine, Collecting, Done }
    private BlockState _blockState;
    private readonly List<(byte[] Content, bool HasTerminator, bool Crlf)> _blockLines = [];
    private bool _noFinalNewline;

    /// <summary>File offset from which "From " lines count as separators again (Content-Length framing).</summary>
    public long SeparatorsAllowedFrom { get; private set; }

    public bool FlagBlockPossible => _blockState != BlockState.Done;

    public long Written => _written;

    public void Begin(Stream? destination, MboxReadOptions options, bool discard)
    {
        _destination = discard ? null : destination;
        _convertToCrlf = options.ConvertLineEndingsToCrlf;
        _maxBytes = options.MaxMessageBytes;
        _written = 0;
        _tooLarge = false;
        _outLen = 0;
        _heldCount = 0;
        _lineHasContent = false;
        _lastLineEmpty = false;
        _inHeader = !discard;
        _lineAccLen = 0;
        _lineAccOverflow = false;
        _field.Clear();
        _fieldUsable = false;
        _flags.Clear();
        _flagsFromBlock = false;
        _contentLength = null;
        _readContentLength = options.Format is MboxFormat.Mboxcl or MboxFormat.Mboxcl2;
        _blockState = discard ? BlockState.Done : BlockState.FirstLine;
        _blockLines.Clear();
        _noFinalNewline = false;
        SeparatorsAllowedFrom = 0;
    }

    /// <summary>Offers a whole line (without terminator) to the flag-block recogniser.</summary>
    /// <returns>True when the line was taken into the block; false when it must be processed normally.</returns>
    public bool TryTakeFlagBlockLine(ReadOnlySpan<byte> content, bool hasTerminator, bool crlf)
    {
        if (_blockState == BlockState.FirstLine)
        {
            if (!content.StartsWith(MarkerPrefix) || content.Length > MaxFlagBlockLineBytes || !hasTerminator)
            {
                _blockState = BlockState.Done;
                return false;
            }
            _blockState = BlockState.Collecting;
            _blockLines.Add((content.ToArray(), hasTerminator, crlf));
            return true;
        }
        if (content.IsEmpty || content.Length > MaxFlagBlockLineBytes || !hasTerminator)
        {
            ResolveFlagBlock();
            return false;
        }
        _blockLines.Add((content.ToArray(), hasTerminator, crlf));
        if (_blockLines.Count == 4)
            ResolveFlagBlock();
        return true;
    }

    /// <summary>Ends flag-block recognition: removes the block when it has Postern's exact shape, else writes its lines as ordinary ones.</summary>
    public void ResolveFlagBlock()
    {
        if (_blockState != BlockState.Collecting)
        {
            _blockState = BlockState.Done;
            return;
        }
        _blockState = BlockState.Done;
        if (_blockLines.Count == 4 && TryReadBlock())
            return;
        foreach (var (content, hasTerminator, crlf) in _blockLines)
        {
            StartLine();
            Content(content);
            EndLine(hasTerminator, crlf, 0);
        }
        _blockLines.Clear();
    }

    private bool TryReadBlock()
    {
        var lines = _blockLines.Select(l => Encoding.Latin1.GetString(l.Content)).ToArray();
        string[] names = [MboxFlagHeaders.MarkerFieldName, "Status", "X-Status", "X-Keywords"];
        var values = new string[4];
        for (int i = 0; i < 4; i++)
        {
            // Names exactly as Postern writes them: a loose match could eat a message's own header.
            if (!lines[i].StartsWith(names[i] + ":", StringComparison.Ordinal))
                return false;
            values[i] = lines[i][(names[i].Length + 1)..].Trim();
        }
        var marker = values[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (marker.Length is 0 or > 2 || marker[0] != MboxFlagHeaders.MarkerVersion || (marker.Length == 2 && marker[1] != MboxFlagHeaders.NoFinalNewlineToken))
            return false;
        _noFinalNewline = marker.Length == 2;
        _flags.Clear();
        for (int i = 1; i < 4; i++)
            MboxFlagHeaders.AddFromField(names[i], values[i], _flags);
        _flagsFromBlock = true;
        _blockLines.Clear();
        return true;
    }

    public void StartLine()
    {
        _lineHasContent = false;
        _lineAccLen = 0;
        _lineAccOverflow = false;
    }

    public void Content(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
            return;
        if (!_lineHasContent)
        {
            _lineHasContent = true;
            FlushHeld(_heldCount);
        }
        if (_inHeader)
        {
            if (_lineAccLen + bytes.Length <= _lineAcc.Length)
            {
                bytes.CopyTo(_lineAcc.AsSpan(_lineAccLen));
                _lineAccLen += bytes.Length;
            }
            else
            {
                _lineAccOverflow = true;
            }
        }
        Write(bytes);
    }

    public void ContentRepeat(byte value, long count)
    {
        Span<byte> chunk = stackalloc byte[256];
        chunk.Fill(value);
        while (count > 0)
        {
            int n = (int)Math.Min(count, chunk.Length);
            Content(chunk[..n]);
            count -= n;
        }
    }

    /// <param name="hasTerminator">False for a last line that ends at the end of the file.</param>
    /// <param name="crlf">The line ended with CRLF rather than LF.</param>
    /// <param name="offsetAfterLine">File offset of the next line (used for Content-Length framing).</param>
    public void EndLine(bool hasTerminator, bool crlf, long offsetAfterLine)
    {
        if (crlf && _flagsFromBlock)
        {
            // Postern writes every line ending as LF, so a CR before it is message content
            // (a stored "\r\r\n" was written as "\r\n").
            Content("\r"u8);
            crlf = false;
        }
        if (_inHeader)
            InspectHeaderLine(offsetAfterLine);
        if (!hasTerminator)
        {
            // Only a line with content can end without terminator (at the end of the file).
            _lastLineEmpty = false;
            return;
        }
        if (_heldCount == 2)
        {
            FlushHeld(1);
        }
        _held[_heldCount++] = crlf;
        _lastLineEmpty = !_lineHasContent;
    }

    private void InspectHeaderLine(long offsetAfterLine)
    {
        if (!_lineHasContent)
        {
            FinishField();
            _inHeader = false;
            // RFC 4155 §2 (mboxcl/mboxcl2): Content-Length counts the body after the blank line.
            if (_contentLength is long length)
                SeparatorsAllowedFrom = offsetAfterLine + length;
            return;
        }
        var line = _lineAcc.AsSpan(0, _lineAccLen);
        if (line[0] is (byte)' ' or (byte)'\t')
        {
            // RFC 5322 §2.2.3: a line starting with white space continues the field (unfolding).
            if (_fieldUsable && !_lineAccOverflow && _field.Length + line.Length <= MaxInspectedFieldBytes)
                _field.Append(Encoding.Latin1.GetString(line));
            else
                _fieldUsable = false;
            return;
        }
        FinishField();
        _field.Clear();
        _fieldUsable = !_lineAccOverflow;
        if (_fieldUsable)
            _field.Append(Encoding.Latin1.GetString(line));
    }

    private void FinishField()
    {
        if (!_fieldUsable || _field.Length == 0)
            return;
        _fieldUsable = false;
        var text = _field.ToString();
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
            return;
        var name = text[..colon].TrimEnd();
        var value = text[(colon + 1)..].Trim();
        if (!_flagsFromBlock)
            MboxFlagHeaders.AddFromField(name, value, _flags);
        if (_readContentLength && name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
            && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long length))
            _contentLength = length;
    }

    /// <summary>Ends the message (a separator or the end of the file follows) and returns what was learned.</summary>
    public (long Length, IReadOnlyList<string> Flags, bool FromBlock, bool TooLarge) Finish()
    {
        ResolveFlagBlock();
        if (_inHeader)
            FinishField();
        if (_lastLineEmpty && _heldCount > 0)
            _heldCount--;
        if (_noFinalNewline && _heldCount > 0)
            _heldCount--;
        FlushHeld(_heldCount);
        FlushOutput();
        var flags = _flags.ToList();
        return (_written, flags, _flagsFromBlock, _tooLarge);
    }

    private void FlushHeld(int count)
    {
        for (int i = 0; i < count; i++)
            Write(_convertToCrlf || _held[i] ? Crlf : Lf);
        if (count == 1 && _heldCount == 2)
            _held[0] = _held[1];
        _heldCount -= count;
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        _written += bytes.Length;
        if (_written > _maxBytes)
            _tooLarge = true;
        if (_destination is null || _tooLarge)
            return;
        if (_outLen + bytes.Length > _outBuf.Length)
        {
            FlushOutput();
            if (bytes.Length > _outBuf.Length / 2)
            {
                _destination.Write(bytes);
                return;
            }
        }
        bytes.CopyTo(_outBuf.AsSpan(_outLen));
        _outLen += bytes.Length;
    }

    private void FlushOutput()
    {
        if (_outLen > 0 && _destination is not null && !_tooLarge)
            _destination.Write(_outBuf, 0, _outLen);
        _outLen = 0;
    }
}
