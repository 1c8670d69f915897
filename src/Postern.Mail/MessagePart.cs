namespace Postern.Mail;

/// <summary>
/// One node of a message's MIME tree with absolute byte offsets into the raw message, so a
/// section is served from the stored file without parsing again (RFC 9051 §6.4.5), and the
/// data model of its BODYSTRUCTURE entry including extension data (RFC 9051 §7.5.2).
/// The top-level message is a part too (section ""); an embedded message/rfc822 message is
/// the <see cref="EmbeddedMessage"/> of its enclosing part. Ranges for IMAP:
/// BODY[HEADER] and BODY[n.MIME] = [HeaderStart, BodyStart); BODY[TEXT] and BODY[n] =
/// [BodyStart, End); for "n.HEADER"/"n.TEXT" use the ranges of <see cref="EmbeddedMessage"/>.
/// </summary>
public sealed class MessagePart
{
    internal MessagePart() { }

    /// <summary>IMAP section number ("" for the top-level message, "1", "1.2"...). An embedded
    /// message has the section of its enclosing message/rfc822 part.</summary>
    public string Section { get; internal set; } = "";

    /// <summary>Offset of the first header byte (for a MIME part: just after the boundary line).</summary>
    public long HeaderStart { get; internal set; }

    /// <summary>Offset of the first body byte (after the empty line ending the header).</summary>
    public long BodyStart { get; internal set; }

    /// <summary>Offset just past the body (the line break before a boundary belongs to the boundary, RFC 2046 §5.1.1).</summary>
    public long End { get; internal set; }

    /// <summary>Header size in octets, including the empty separator line.</summary>
    public long HeaderOctets => BodyStart - HeaderStart;

    /// <summary>Body size in octets (IMAP body-fld-octets).</summary>
    public long BodyOctets => End - BodyStart;

    /// <summary>Body size in lines (IMAP body-fld-lines): line breaks in the body, plus one for a final unterminated line.</summary>
    public long BodyLines { get; internal set; }

    /// <summary>Media type, lowercased ("text"). Defaults per RFC 2045 §5.2 / RFC 2046 §5.1.5.</summary>
    public string MediaType { get; internal set; } = "text";

    /// <summary>Media subtype, lowercased ("plain").</summary>
    public string MediaSubtype { get; internal set; } = "plain";

    /// <summary>"type/subtype".</summary>
    public string ContentType => MediaType + "/" + MediaSubtype;

    /// <summary>Content-Type parameters, decoded (RFC 2231, names lowercased).</summary>
    public IReadOnlyList<MimeParameter> ContentTypeParameters { get; internal set; } = [];

    /// <summary>The charset parameter lowercased, or null.</summary>
    public string? Charset => Param(ContentTypeParameters, "charset")?.Trim().ToLowerInvariant() is { Length: > 0 } c ? c : null;

    /// <summary>The boundary parameter, or null.</summary>
    public string? Boundary => Param(ContentTypeParameters, "boundary");

    /// <summary>Content-ID, unfolded, or null.</summary>
    public string? ContentId { get; internal set; }

    /// <summary>Content-Description, unfolded (encoded words kept), or null.</summary>
    public string? ContentDescription { get; internal set; }

    /// <summary>Content-Transfer-Encoding lowercased, or null when absent (meaning 7bit, RFC 2045 §6.1).</summary>
    public string? ContentTransferEncoding { get; internal set; }

    /// <summary>Content-MD5 (RFC 1864), or null.</summary>
    public string? ContentMd5 { get; internal set; }

    /// <summary>Content-Disposition value lowercased ("inline", "attachment"), or null.</summary>
    public string? Disposition { get; internal set; }

    /// <summary>Content-Disposition parameters, decoded.</summary>
    public IReadOnlyList<MimeParameter> DispositionParameters { get; internal set; } = [];

    /// <summary>Content-Language tags (RFC 3282), empty when absent.</summary>
    public IReadOnlyList<string> ContentLanguage { get; internal set; } = [];

    /// <summary>Content-Location (RFC 2557), or null.</summary>
    public string? ContentLocation { get; internal set; }

    /// <summary>Decoded file name: the disposition "filename", else the Content-Type "name" (RFC 2183 §2.3), or null.</summary>
    public string? FileName =>
        (Param(DispositionParameters, "filename") ?? Param(ContentTypeParameters, "name"))?.Trim() is { } f ? f : null;

    /// <summary>Children of a multipart, in order; empty otherwise.</summary>
    public IReadOnlyList<MessagePart> Children { get; internal set; } = [];

    /// <summary>For message/rfc822 and message/global: the embedded message (its header and body).</summary>
    public MessagePart? EmbeddedMessage { get; internal set; }

    /// <summary>For a message (top-level or embedded): its envelope; null for ordinary MIME parts.</summary>
    public Envelope? Envelope { get; internal set; }

    /// <summary>True for multipart/*.</summary>
    public bool IsMultipart => MediaType == "multipart";

    /// <summary>True for message/rfc822 and message/global with a parsed embedded message.</summary>
    public bool IsEmbeddedMessage => EmbeddedMessage is not null;

    /// <summary>True for text/* (IMAP reports body lines for these).</summary>
    public bool IsText => MediaType == "text";

    internal long LfAtBodyStart;

    internal List<MessagePart>? ChildList;

    internal static string? Param(IReadOnlyList<MimeParameter> list, string name)
    {
        foreach (var p in list)
            if (p.Name == name) return p.Value;
        return null;
    }

    /// <summary>Parses this part's header block from the raw message (the bytes the offsets refer to).</summary>
    public HeaderList ParseHeaders(ReadOnlySpan<byte> rawMessage)
    {
        long start = Math.Min(HeaderStart, rawMessage.Length);
        long end = Math.Min(BodyStart, rawMessage.Length);
        return HeaderList.Parse(rawMessage[(int)start..(int)end]);
    }

    /// <summary>A streaming decoder for this part's Content-Transfer-Encoding (for IMAP BINARY and text).</summary>
    public ITransferDecoder CreateDecoder() => TransferDecoding.Create(ContentTransferEncoding);

    /// <summary>Every part in depth-first order: this, then children / embedded message, recursively.</summary>
    public IEnumerable<MessagePart> Walk()
    {
        var stack = new Stack<MessagePart>();
        stack.Push(this);
        while (stack.Count > 0)
        {
            var p = stack.Pop();
            yield return p;
            if (p.EmbeddedMessage is not null) stack.Push(p.EmbeddedMessage);
            for (int i = p.Children.Count - 1; i >= 0; i--) stack.Push(p.Children[i]);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{(Section.Length == 0 ? "(message)" : Section)} {ContentType} [{HeaderStart},{BodyStart},{End})";
}
