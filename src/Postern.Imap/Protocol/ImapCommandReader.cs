// Reads whole IMAP commands from a PipeReader: the line scan is resumable (bytes stay in the
// pipe until a full line is there), literals are charged against the named limits *before*
// the "+" continuation of a synchronising literal is sent, and a literal's bytes are only read
// after that. Large literals (APPEND messages) go to a temporary file, never whole into memory.
// The result is the command text with the literal markers kept in place ("{5}") and the literal
// contents aside, in order; ImapTokenizer consumes the contents when it meets a marker.
using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace Postern.Imap.Protocol;

/// <summary>One command as read from the wire, not yet parsed.</summary>
public sealed class RawCommand : IDisposable
{
    internal RawCommand(byte[] text, List<ImapLiteral> literals, string tag, List<int>? literalPositions = null)
    {
        Text = text;
        LiteralPositions = literalPositions ?? [];
        Literals = literals;
        Tag = tag;
    }

    /// <summary>Command text, CRLFs removed, literal markers kept.</summary>
    public byte[] Text { get; }

    /// <summary>Literal contents in the order of their markers.</summary>
    public IReadOnlyList<ImapLiteral> Literals { get; }

    /// <summary>Text offsets just after each literal marker (where the literal's content belongs).</summary>
    public IReadOnlyList<int> LiteralPositions { get; }

    /// <summary>First word of the command (may be invalid; the parser checks it).</summary>
    public string Tag { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var l in Literals)
            l.Dispose();
    }
}

/// <summary>What <see cref="ImapCommandReader.ReadCommandAsync"/> produced.</summary>
public enum ReadOutcomeKind
{
    /// <summary>A complete command.</summary>
    Command,
    /// <summary>The command was rejected while reading; reply tagged BAD (or NO) and continue.</summary>
    Rejected,
    /// <summary>The stream cannot be trusted any more (e.g. an unacceptable non-synchronising literal); reply BYE and close.</summary>
    Fatal,
    /// <summary>The client closed the connection.</summary>
    EndOfStream,
}

/// <summary>Result of reading one command.</summary>
public readonly record struct ReadOutcome(ReadOutcomeKind Kind, RawCommand? Command, string? Tag, string? Response)
{
    internal static ReadOutcome Eof => new(ReadOutcomeKind.EndOfStream, null, null, null);
}

/// <summary>What a literal marker announced, for the session's state checks.</summary>
public readonly record struct LiteralAnnouncement(string Tag, string CommandName, long Size, bool NonSynchronizing, bool Binary)
{
    /// <summary>Literal bytes already accepted for the same command (the session can cap a command's total).</summary>
    public long AcceptedBefore { get; init; }
}

/// <summary>Frames commands (lines and literals) from a connection.</summary>
public sealed class ImapCommandReader
{
    private readonly PipeReader _reader;
    private readonly ImapLimits _limits;
    private readonly string _tempDirectory;
    private int _pipelined;

    /// <summary>Creates a reader over one transport (a new one after STARTTLS or COMPRESS).</summary>
    public ImapCommandReader(PipeReader reader, ImapLimits limits, string? tempDirectory = null)
    {
        _reader = reader;
        _limits = limits;
        _tempDirectory = tempDirectory ?? Path.GetTempPath();
    }

    /// <summary>
    /// Whether LITERAL+ (RFC 7888) is in force; otherwise only LITERAL- (non-synchronising literals
    /// up to 4096 octets) is accepted.
    /// </summary>
    public bool LiteralPlus { get; set; } = true;

    /// <summary>
    /// Checks a literal before it is accepted (state, mailbox...). Returns null to accept, or
    /// a full tagged response text (e.g. "NO [TRYCREATE] ...") to refuse.
    /// </summary>
    public Func<LiteralAnnouncement, string?>? LiteralCheck { get; set; }

    /// <summary>Sends the "+ " continuation for a synchronising literal.</summary>
    public Func<CancellationToken, ValueTask>? SendContinuation { get; set; }

    /// <summary>Reads the next command.</summary>
    public async ValueTask<ReadOutcome> ReadCommandAsync(CancellationToken cancellationToken)
    {
        var text = new ArrayBufferWriter<byte>(256);
        var literals = new List<ImapLiteral>();
        var literalPositions = new List<int>();
        long literalTotal = 0;
        long inMemory = 0;
        string? tag = null;
        string commandName = "";
        try
        {
            while (true)
            {
                int lineStart = text.WrittenCount;
                LineStatus status = await ReadLineAsync(text, _limits.MaxLineLength, cancellationToken).ConfigureAwait(false);
                if (status == LineStatus.EndOfStream)
                {
                    DisposeAll(literals);
                    return ReadOutcome.Eof;
                }
                if (tag is null)
                    (tag, commandName) = PeekTagAndCommand(text.WrittenSpan);
                if (status == LineStatus.TooLong)
                {
                    DisposeAll(literals);
                    if (_lastDiscardedEndedWithNonSyncLiteral)
                        return new ReadOutcome(ReadOutcomeKind.Fatal, null, tag, "Line too long and followed by a literal");
                    return new ReadOutcome(ReadOutcomeKind.Rejected, null, tag, $"BAD Line longer than {_limits.MaxLineLength} octets");
                }
                if (text.WrittenCount > _limits.MaxCommandTextLength)
                {
                    DisposeAll(literals);
                    // A synchronising literal marker at the end is simply never answered with "+";
                    // a non-synchronising one is already on its way and would be read as commands.
                    if (TryParseLiteralMarker(text.WrittenSpan[lineStart..], out _, out bool unasked, out _) && unasked)
                        return new ReadOutcome(ReadOutcomeKind.Fatal, null, tag, "Command too long and followed by a literal");
                    return new ReadOutcome(ReadOutcomeKind.Rejected, null, tag, $"BAD Command longer than {_limits.MaxCommandTextLength} octets");
                }

                if (!TryParseLiteralMarker(text.WrittenSpan[lineStart..], out long size, out bool nonSync, out bool binary))
                {
                    if (!System.Text.Unicode.Utf8.IsValid(text.WrittenSpan))
                    {
                        DisposeAll(literals);
                        return new ReadOutcome(ReadOutcomeKind.Rejected, null, tag, "BAD Command is not valid UTF-8");
                    }
                    if (!CountPipelined())
                    {
                        DisposeAll(literals);
                        return new ReadOutcome(ReadOutcomeKind.Fatal, null, tag, $"Too many pipelined commands (limit {_limits.MaxPipelinedCommands})");
                    }
                    return new ReadOutcome(ReadOutcomeKind.Command, new RawCommand(text.WrittenSpan.ToArray(), literals, tag, literalPositions), tag, null);
                }

                string? refusal = CheckLiteral(tag, commandName, size, nonSync, binary, literals.Count, literalTotal, inMemory);
                if (refusal is not null)
                {
                    DisposeAll(literals);
                    // RFC 7888 §4: a refused non-synchronising literal is already on its way; its
                    // bytes would otherwise be read as commands, so the connection is closed.
                    if (nonSync)
                        return new ReadOutcome(ReadOutcomeKind.Fatal, null, tag, "Literal refused: " + refusal);
                    return new ReadOutcome(ReadOutcomeKind.Rejected, null, tag, refusal);
                }
                literalTotal += size;
                if (!nonSync && SendContinuation is not null)
                    await SendContinuation(cancellationToken).ConfigureAwait(false);
                // Past the in-memory budget (or the per-literal threshold) an APPEND message goes to a file.
                bool spool = size > _limits.InMemoryLiteralThreshold || inMemory + size > _limits.MaxInMemoryLiteralBytes;
                ImapLiteral? literal = await ReadLiteralAsync(size, binary, spool, cancellationToken).ConfigureAwait(false);
                if (literal is null)
                {
                    DisposeAll(literals);
                    return ReadOutcome.Eof;
                }
                if (literal.IsInMemory)
                    inMemory += size;
                literals.Add(literal);
                literalPositions.Add(text.WrittenCount);
            }
        }
        catch
        {
            DisposeAll(literals);
            throw;
        }
    }

    /// <summary>Reads one line (AUTHENTICATE responses, IDLE's DONE), without its CRLF. Null at end of stream or when too long.</summary>
    public async ValueTask<byte[]?> ReadRawLineAsync(int maxLength, CancellationToken cancellationToken)
    {
        var text = new ArrayBufferWriter<byte>(64);
        LineStatus status = await ReadLineAsync(text, maxLength, cancellationToken).ConfigureAwait(false);
        return status == LineStatus.Complete ? text.WrittenSpan.ToArray() : null;
    }

    /// <summary>True when bytes from the client are already buffered (used to detect pipelining and data after STARTTLS).</summary>
    public bool HasBufferedData()
    {
        if (!_reader.TryRead(out ReadResult result))
            return false;
        bool any = !result.Buffer.IsEmpty;
        _reader.AdvanceTo(result.Buffer.Start, result.Buffer.Start);
        return any;
    }

    private string? CheckLiteral(string? tag, string commandName, long size, bool nonSync, bool binary, int count, long total, long inMemory)
    {
        bool isAppend = commandName is "APPEND" or "REPLACE";
        if (count >= _limits.MaxLiteralsPerCommand)
            return $"BAD Too many literals in one command (limit {_limits.MaxLiteralsPerCommand})";
        // RFC 7889 §4: TOOBIG for a message over APPENDLIMIT.
        if (isAppend && size > _limits.AppendLimit)
            return $"NO [TOOBIG] Message larger than APPENDLIMIT {_limits.AppendLimit}";
        if (!isAppend && size > _limits.MaxArgumentLiteral)
            return $"BAD Literal larger than {_limits.MaxArgumentLiteral} octets";
        if (total + size > _limits.MaxCommandLiteralBytes)
            return $"NO [LIMIT] Command literals exceed {_limits.MaxCommandLiteralBytes} octets";
        // Arguments are parsed from memory: their total per command (and so per connection) is bounded too.
        if (!isAppend && inMemory + size > _limits.MaxInMemoryLiteralBytes)
            return $"NO [LIMIT] Literal arguments exceed {_limits.MaxInMemoryLiteralBytes} octets";
        // RFC 7888 §3: without LITERAL+ only small non-synchronising literals are allowed.
        if (nonSync && !LiteralPlus && size > ImapLimits.LiteralMinusMax)
            return $"BAD Non-synchronising literal larger than {ImapLimits.LiteralMinusMax} octets";
        if (LiteralCheck is not null)
            return LiteralCheck(new LiteralAnnouncement(tag ?? "*", commandName, size, nonSync, binary) { AcceptedBefore = total });
        return null;
    }

    private bool CountPipelined()
    {
        if (HasBufferedData())
        {
            _pipelined++;
            return _pipelined <= _limits.MaxPipelinedCommands;
        }
        _pipelined = 0;
        return true;
    }

    private enum LineStatus { Complete, TooLong, EndOfStream }

    private bool _lastDiscardedEndedWithNonSyncLiteral;

    private async ValueTask<LineStatus> ReadLineAsync(ArrayBufferWriter<byte> text, int maxLength, CancellationToken ct)
    {
        bool discarding = false;
        // Last three bytes of a discarded over-long line, to tell whether it ended with "+}".
        byte t0 = 0, t1 = 0, t2 = 0;
        while (true)
        {
            ReadResult result = await _reader.ReadAsync(ct).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            SequencePosition? lf = buffer.PositionOf((byte)'\n');
            if (lf is not null)
            {
                ReadOnlySequence<byte> line = buffer.Slice(0, lf.Value);
                SequencePosition next = buffer.GetPosition(1, lf.Value);
                if (discarding || line.Length + 1 > maxLength)
                {
                    if (!discarding && text.WrittenCount == 0)
                    {
                        int head = (int)Math.Min(line.Length, 100);
                        line.Slice(0, head).CopyTo(text.GetSpan(head));
                        text.Advance(head);
                    }
                    foreach (ReadOnlyMemory<byte> seg in line)
                        foreach (byte b in seg.Span[Math.Max(0, seg.Length - 3)..])
                            (t0, t1, t2) = (t1, t2, b);
                    if (t2 == (byte)'\r')
                        (t1, t2) = (t0, t1);
                    _lastDiscardedEndedWithNonSyncLiteral = t2 == (byte)'}' && t1 == (byte)'+';
                    _reader.AdvanceTo(next);
                    return LineStatus.TooLong;
                }
                int len = (int)line.Length;
                if (len > 0 && line.Slice(len - 1).FirstSpan[0] == (byte)'\r')
                    len--;
                line.Slice(0, len).CopyTo(text.GetSpan(len));
                text.Advance(len);
                _reader.AdvanceTo(next);
                return LineStatus.Complete;
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                _reader.AdvanceTo(buffer.End);
                return LineStatus.EndOfStream;
            }
            if (discarding || buffer.Length > maxLength)
            {
                if (!discarding && text.WrittenCount == 0)
                {
                    // Keep the start so the tag can be named in the BAD response.
                    int head = (int)Math.Min(buffer.Length, 100);
                    buffer.Slice(0, head).CopyTo(text.GetSpan(head));
                    text.Advance(head);
                }
                foreach (ReadOnlyMemory<byte> seg in buffer)
                    foreach (byte b in seg.Span[Math.Max(0, seg.Length - 3)..])
                        (t0, t1, t2) = (t1, t2, b);
                discarding = true;
                _reader.AdvanceTo(buffer.End);
                continue;
            }
            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async ValueTask<ImapLiteral?> ReadLiteralAsync(long size, bool binary, bool spool, CancellationToken ct)
    {
        if (!spool)
        {
            var bytes = new byte[size];
            int filled = 0;
            while (filled < size)
            {
                ReadResult result = await _reader.ReadAsync(ct).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                long take = Math.Min(buffer.Length, size - filled);
                buffer.Slice(0, take).CopyTo(bytes.AsSpan(filled));
                filled += (int)take;
                _reader.AdvanceTo(buffer.GetPosition(take));
                if (filled < size && (result.IsCompleted || result.IsCanceled))
                    return null;
            }
            return new ImapLiteral(bytes, binary);
        }

        string path = Path.Combine(_tempDirectory, "postern-literal-" + Guid.NewGuid().ToString("N"));
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 64 * 1024,
            FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            long remaining = size;
            while (remaining > 0)
            {
                ReadResult result = await _reader.ReadAsync(ct).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                long take = Math.Min(buffer.Length, remaining);
                foreach (ReadOnlyMemory<byte> segment in buffer.Slice(0, take))
                    await file.WriteAsync(segment, ct).ConfigureAwait(false);
                remaining -= take;
                _reader.AdvanceTo(buffer.GetPosition(take));
                if (remaining > 0 && (result.IsCompleted || result.IsCanceled))
                {
                    await file.DisposeAsync().ConfigureAwait(false);
                    return null;
                }
            }
            await file.FlushAsync(ct).ConfigureAwait(false);
            return new ImapLiteral(file, size, binary);
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Recognises "{n}", "{n+}" or "~{n}" (RFC 9051 §4.3, RFC 7888, RFC 3516) at the end of a line.</summary>
    internal static bool TryParseLiteralMarker(ReadOnlySpan<byte> line, out long size, out bool nonSync, out bool binary)
    {
        size = 0;
        nonSync = false;
        binary = false;
        if (line.Length < 3 || line[^1] != (byte)'}')
            return false;
        int end = line.Length - 1;
        if (line[end - 1] == (byte)'+')
        {
            nonSync = true;
            end--;
        }
        int open = line[..end].LastIndexOf((byte)'{');
        if (open < 0 || open == end - 1)
            return false;
        ReadOnlySpan<byte> digits = line[(open + 1)..end];
        if (digits.Length > 18)
            return false;
        foreach (byte b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9')
                return false;
            size = size * 10 + (b - '0');
        }
        binary = open > 0 && line[open - 1] == (byte)'~';
        return true;
    }

    private static (string Tag, string Command) PeekTagAndCommand(ReadOnlySpan<byte> line)
    {
        int sp = line.IndexOf((byte)' ');
        string tag = Encoding.UTF8.GetString(sp < 0 ? line[..Math.Min(line.Length, 64)] : line[..Math.Min(sp, 64)]);
        if (sp < 0)
            return (tag, "");
        ReadOnlySpan<byte> rest = line[(sp + 1)..];
        int sp2 = rest.IndexOf((byte)' ');
        ReadOnlySpan<byte> name = sp2 < 0 ? rest : rest[..sp2];
        if (name.Length == 3 && Ascii.EqualsIgnoreCase(name, "UID"u8) && sp2 >= 0)
        {
            rest = rest[(sp2 + 1)..];
            int sp3 = rest.IndexOf((byte)' ');
            name = sp3 < 0 ? rest : rest[..sp3];
        }
        return (tag, Encoding.ASCII.GetString(name[..Math.Min(name.Length, 32)]).ToUpperInvariant());
    }

    private static void DisposeAll(List<ImapLiteral> literals)
    {
        foreach (var l in literals)
            l.Dispose();
        literals.Clear();
    }
}
