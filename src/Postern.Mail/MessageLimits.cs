namespace Postern.Mail;

/// <summary>
/// Named bounds for parsing one message. Input beyond a limit is never an error: the
/// parser stops interpreting structure at that point, treats the rest as opaque body of
/// the last valid part and records a <see cref="ParseWarning"/>.
/// </summary>
/// <param name="MaxHeaderBlockBytes">Bytes of one header block (message or MIME part) that are buffered and interpreted.</param>
/// <param name="MaxLineBytes">Bytes of one body line buffered to recognise a boundary; longer lines are counted, not kept.</param>
/// <param name="MaxDepth">Nesting depth of multiparts and embedded messages.</param>
/// <param name="MaxParts">Total number of parts (every node of the tree) in one message.</param>
/// <param name="MaxParameters">Parameters kept per Content-Type / Content-Disposition field.</param>
/// <param name="MaxHeaderFields">Header fields interpreted per header block.</param>
public sealed record MessageLimits(
    int MaxHeaderBlockBytes = 256 * 1024,
    int MaxLineBytes = 4096,
    int MaxDepth = 50,
    int MaxParts = 5000,
    int MaxParameters = 64,
    int MaxHeaderFields = 2000)
{
    /// <summary>The defaults, generous for real mail and small enough to bound memory.</summary>
    public static MessageLimits Default { get; } = new();
}

/// <summary>A recoverable irregularity met while parsing; the structure is still usable.</summary>
public enum ParseWarningKind
{
    /// <summary>A header block exceeded <see cref="MessageLimits.MaxHeaderBlockBytes"/>.</summary>
    HeaderBlockTooLarge,
    /// <summary>A header block exceeded <see cref="MessageLimits.MaxHeaderFields"/>.</summary>
    TooManyHeaderFields,
    /// <summary>Nesting exceeded <see cref="MessageLimits.MaxDepth"/>; the part is kept opaque.</summary>
    TooDeep,
    /// <summary>The part count reached <see cref="MessageLimits.MaxParts"/>; the rest is opaque.</summary>
    TooManyParts,
    /// <summary>A multipart has no boundary parameter or no boundary line in its body.</summary>
    MissingBoundary,
    /// <summary>A multipart was not closed by its close-delimiter before its enclosing part ended.</summary>
    MissingCloseDelimiter,
    /// <summary>A header section did not end with an empty line.</summary>
    MissingHeaderSeparator,
    /// <summary>A header line was not a field (no colon), ending the header section early.</summary>
    InvalidHeaderLine,
    /// <summary>NUL bytes were present.</summary>
    NulBytes,
}

/// <summary>One warning with the byte offset where it applies.</summary>
public readonly record struct ParseWarning(ParseWarningKind Kind, long Offset);
