namespace Postern.Imap.Protocol;

/// <summary>Kinds of FETCH data items (RFC 9051 §6.4.5 and extensions).</summary>
public enum FetchItemKind
{
    /// <summary>FLAGS</summary>
    Flags,
    /// <summary>UID</summary>
    Uid,
    /// <summary>INTERNALDATE</summary>
    InternalDate,
    /// <summary>RFC822.SIZE</summary>
    Rfc822Size,
    /// <summary>ENVELOPE</summary>
    Envelope,
    /// <summary>BODYSTRUCTURE</summary>
    BodyStructure,
    /// <summary>BODY without a section: the non-extensible BODYSTRUCTURE.</summary>
    Body,
    /// <summary>BODY[section]&lt;partial&gt; or BODY.PEEK[...]</summary>
    BodySection,
    /// <summary>BINARY[section] (RFC 3516)</summary>
    BinarySection,
    /// <summary>BINARY.SIZE[section] (RFC 3516)</summary>
    BinarySize,
    /// <summary>RFC822 (rev1): same as BODY[]</summary>
    Rfc822,
    /// <summary>RFC822.HEADER (rev1): BODY.PEEK[HEADER]</summary>
    Rfc822Header,
    /// <summary>RFC822.TEXT (rev1): BODY[TEXT]</summary>
    Rfc822Text,
    /// <summary>MODSEQ (RFC 7162)</summary>
    ModSeq,
    /// <summary>PREVIEW (RFC 8970)</summary>
    Preview,
    /// <summary>SAVEDATE (RFC 8514)</summary>
    SaveDate,
}

/// <summary>What part of a message section refers to (RFC 9051 §6.4.5 section-text).</summary>
public enum SectionText
{
    /// <summary>The whole part (or whole message for an empty section).</summary>
    None,
    /// <summary>HEADER</summary>
    Header,
    /// <summary>HEADER.FIELDS (list)</summary>
    HeaderFields,
    /// <summary>HEADER.FIELDS.NOT (list)</summary>
    HeaderFieldsNot,
    /// <summary>TEXT</summary>
    Text,
    /// <summary>MIME (only after a part number)</summary>
    Mime,
}

/// <summary>A section specification such as <c>1.2.HEADER.FIELDS (From To)</c>.</summary>
/// <param name="Part">Part numbers, empty for the top level.</param>
/// <param name="Text">The section text.</param>
/// <param name="Fields">Header field names for HEADER.FIELDS(.NOT).</param>
public sealed record Section(IReadOnlyList<int> Part, SectionText Text, IReadOnlyList<string> Fields)
{
    /// <summary>Formats the section as it must be echoed in the response.</summary>
    public override string ToString()
    {
        var parts = string.Join('.', Part.Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        string text = Text switch
        {
            SectionText.Header => "HEADER",
            SectionText.HeaderFields => "HEADER.FIELDS (" + string.Join(' ', Fields) + ")",
            SectionText.HeaderFieldsNot => "HEADER.FIELDS.NOT (" + string.Join(' ', Fields) + ")",
            SectionText.Text => "TEXT",
            SectionText.Mime => "MIME",
            _ => "",
        };
        if (parts.Length > 0 && text.Length > 0)
            return parts + "." + text;
        return parts + text;
    }
}

/// <summary>One FETCH data item.</summary>
/// <param name="Kind">Which item.</param>
/// <param name="Section">For BODY[...], BINARY[...], BINARY.SIZE[...].</param>
/// <param name="Peek">BODY.PEEK / BINARY.PEEK: do not set \Seen.</param>
/// <param name="PartialOffset">&lt;offset.length&gt; start, if given.</param>
/// <param name="PartialLength">&lt;offset.length&gt; length, if given.</param>
/// <param name="Lazy">PREVIEW (LAZY) modifier (RFC 8970).</param>
public sealed record FetchItem(FetchItemKind Kind, Section? Section = null, bool Peek = false,
    uint? PartialOffset = null, uint? PartialLength = null, bool Lazy = false);
