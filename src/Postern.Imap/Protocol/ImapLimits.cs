namespace Postern.Imap.Protocol;

/// <summary>
/// Every bound the IMAP codec enforces on what a client sends. Each one has a protocol error
/// when exceeded (tagged BAD/NO, or BYE when the stream can no longer be trusted).
/// </summary>
public sealed record ImapLimits
{
    /// <summary>Longest single line (text between literals), CRLF included.</summary>
    public int MaxLineLength { get; init; } = 64 * 1024;

    /// <summary>Longest command text summed over all its lines (literal contents excluded).</summary>
    public int MaxCommandTextLength { get; init; } = 256 * 1024;

    /// <summary>Largest literal accepted as an argument of a command other than APPEND/REPLACE.</summary>
    public int MaxArgumentLiteral { get; init; } = 64 * 1024;

    /// <summary>Largest message accepted by APPEND/REPLACE; advertised as APPENDLIMIT (RFC 7889).</summary>
    public long AppendLimit { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Most literal bytes one command may carry in total (MULTIAPPEND included). Synchronising
    /// literals are charged before the continuation is sent, so a client cannot make the server
    /// reserve memory it never pays for (Cyrus CVE-2024-34055, Stalwart CVE-2025-61600).
    /// </summary>
    public long MaxCommandLiteralBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>
    /// Most literal bytes one connection holds in memory at a time. A connection runs one command at a time and a
    /// command's literals are released when it completes, so this is a per-connection bound: APPEND/REPLACE
    /// messages past it are spooled to temporary files (bounded by <see cref="MaxCommandLiteralBytes"/>), and
    /// literal arguments of other commands past it are refused before their continuation.
    /// </summary>
    public int MaxInMemoryLiteralBytes { get; init; } = 1024 * 1024;

    /// <summary>Literals larger than this are spooled to a temporary file instead of memory.</summary>
    public int InMemoryLiteralThreshold { get; init; } = 64 * 1024;

    /// <summary>Most literals in one command (each MULTIAPPEND message counts one).</summary>
    public int MaxLiteralsPerCommand { get; init; } = 1000;

    /// <summary>Most complete commands a client may queue ahead of the one being executed.</summary>
    public int MaxPipelinedCommands { get; init; } = 256;

    /// <summary>Largest non-synchronising literal under LITERAL- rules (RFC 7888 §3).</summary>
    public const int LiteralMinusMax = 4096;

    /// <summary>Deepest nesting of parenthesised search keys.</summary>
    public int MaxSearchDepth { get; init; } = 64;

    /// <summary>Most ranges in one sequence set.</summary>
    public int MaxSequenceRanges { get; init; } = 100_000;

    /// <summary>Most keys, flags or items in one parenthesised list.</summary>
    public int MaxListItems { get; init; } = 1000;

    /// <summary>Defaults used by the server.</summary>
    public static ImapLimits Default { get; } = new();
}
