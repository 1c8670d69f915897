namespace Postern.Mail.Mbox;

/// <summary>
/// The mbox variants. They differ in how a body line that looks like a "From " separator is
/// protected, and in whether a Content-Length header frames the message (RFC 4155 §2 lists
/// the family; the variant names are the customary ones).
/// </summary>
public enum MboxFormat
{
    /// <summary>mboxrd: every line matching <c>^&gt;*From </c> got one extra '&gt;' when written;
    /// reading removes one '&gt;' from lines matching <c>^&gt;+From </c>. What Postern writes,
    /// and the right reading for mboxo files too except for their rare "&gt;&gt;From " lines.</summary>
    Mboxrd,

    /// <summary>mboxo: only lines starting with "From " were quoted; reading removes the '&gt;'
    /// from lines starting with exactly "&gt;From ".</summary>
    Mboxo,

    /// <summary>mboxcl: quoted like mboxo, and each message carries a Content-Length header that
    /// gives the body length; separators inside that length are ignored.</summary>
    Mboxcl,

    /// <summary>mboxcl2: nothing is quoted; the Content-Length header alone frames the body.</summary>
    Mboxcl2,
}

/// <summary>Options for <see cref="MboxReader"/>.</summary>
public sealed class MboxReadOptions
{
    /// <summary>The default limit of <see cref="MaxMessageBytes"/>: 1 GiB.</summary>
    public const long DefaultMaxMessageBytes = 1L << 30;

    /// <summary>The variant to read; <see cref="MboxFormat.Mboxrd"/> by default.</summary>
    public MboxFormat Format { get; init; } = MboxFormat.Mboxrd;

    /// <summary>Write every line ending as CRLF (the form messages are stored in, RFC 5322 §2.1).
    /// True by default; when false, line endings are copied as found.</summary>
    public bool ConvertLineEndingsToCrlf { get; init; } = true;

    /// <summary>Messages longer than this (after conversion) are reported as malformed and skipped.</summary>
    public long MaxMessageBytes { get; init; } = DefaultMaxMessageBytes;
}

/// <summary>One entry read from an mbox file: a message, or a malformed stretch that was skipped.</summary>
public sealed class MboxEntry
{
    internal MboxEntry(long offset, long line, string? sender, DateTimeOffset? date, long length,
        IReadOnlyList<string> flags, bool flagsWrittenByPostern, string? problem)
    {
        Offset = offset;
        Line = line;
        EnvelopeSender = sender;
        EnvelopeDate = date;
        Length = length;
        Flags = flags;
        FlagsWrittenByPostern = flagsWrittenByPostern;
        Problem = problem;
    }

    /// <summary>Byte offset in the file of the entry's "From " line (or of the skipped data).</summary>
    public long Offset { get; }

    /// <summary>1-based line number in the file where the entry starts.</summary>
    public long Line { get; }

    /// <summary>The sender of the "From " separator line; null when absent.</summary>
    public string? EnvelopeSender { get; }

    /// <summary>The date of the "From " separator line; null when absent or unreadable.</summary>
    public DateTimeOffset? EnvelopeDate { get; }

    /// <summary>Bytes of the message written to the destination stream.</summary>
    public long Length { get; }

    /// <summary>IMAP flags found in the message's flag headers: system flags such as <c>\Seen</c>, then keywords.</summary>
    public IReadOnlyList<string> Flags { get; }

    /// <summary>True when the flags came from the header block Postern writes on export (which was then removed).</summary>
    public bool FlagsWrittenByPostern { get; }

    /// <summary>Why the entry is malformed and was skipped; null for a good message. When set,
    /// whatever was written to the destination must be discarded.</summary>
    public string? Problem { get; }
}
