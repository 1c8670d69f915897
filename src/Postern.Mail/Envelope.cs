namespace Postern.Mail;

/// <summary>
/// One address of an IMAP ENVELOPE (RFC 9051 §7.5.2): (name, adl, mailbox, host). A group is
/// encoded as a start marker (Host null, Mailbox = group name), its members, and an end
/// marker (all null).
/// </summary>
public sealed record EnvelopeAddress(string? Name, string? Adl, string? Mailbox, string? Host)
{
    /// <summary>True for a group start marker.</summary>
    public bool IsGroupStart => Host is null && Mailbox is not null;

    /// <summary>True for a group end marker.</summary>
    public bool IsGroupEnd => Host is null && Mailbox is null;
}

/// <summary>
/// The ENVELOPE of a message (RFC 9051 §7.5.2). String fields are the unfolded header values
/// as written (encoded words kept, as IMAP requires); Sender and ReplyTo default to From.
/// </summary>
public sealed record Envelope(
    string? Date,
    string? Subject,
    IReadOnlyList<EnvelopeAddress> From,
    IReadOnlyList<EnvelopeAddress> Sender,
    IReadOnlyList<EnvelopeAddress> ReplyTo,
    IReadOnlyList<EnvelopeAddress> To,
    IReadOnlyList<EnvelopeAddress> Cc,
    IReadOnlyList<EnvelopeAddress> Bcc,
    string? InReplyTo,
    string? MessageId)
{
    /// <summary>The References field, unfolded, or null (not part of ENVELOPE; kept for threading, RFC 5256).</summary>
    public string? References { get; init; }

    /// <summary>The Subject with RFC 2047 encoded words decoded, or null.</summary>
    public string? DecodedSubject => Subject is null ? null : EncodedWords.DecodeUnstructured(Subject);

    /// <summary>The Date field parsed (RFC 5322 §3.3 with obsolete forms), or null.</summary>
    public DateTimeOffset? ParsedDate => Date is null ? null : MailDate.Parse(Date);

    /// <summary>The base subject for SORT and THREAD (RFC 5256 §2.1).</summary>
    public string BaseSubject => Threading.BaseSubject(DecodedSubject ?? "");

    /// <summary>References then In-Reply-To message ids, for threading (RFC 5256 §2.2).</summary>
    public IReadOnlyList<string> ReferenceIds => Threading.ParseMessageIds(References);

    /// <summary>Builds an envelope from a message's header fields.</summary>
    public static Envelope FromHeaders(HeaderList headers)
    {
        // One pass over the fields, keeping the first of each (RFC 5322 §3.6 allows one).
        HeaderField? date = null, subject = null, fromF = null, senderF = null, replyToF = null, toF = null,
            ccF = null, bccF = null, inReplyTo = null, messageId = null, references = null;
        foreach (var f in headers)
        {
            switch (f.Name.Length)
            {
                case 2 when Is(f, "To"): toF ??= f; break;
                case 2 when Is(f, "Cc"): ccF ??= f; break;
                case 3 when Is(f, "Bcc"): bccF ??= f; break;
                case 4 when Is(f, "From"): fromF ??= f; break;
                case 4 when Is(f, "Date"): date ??= f; break;
                case 6 when Is(f, "Sender"): senderF ??= f; break;
                case 7 when Is(f, "Subject"): subject ??= f; break;
                case 8 when Is(f, "Reply-To"): replyToF ??= f; break;
                case 10 when Is(f, "Message-ID"): messageId ??= f; break;
                case 10 when Is(f, "References"): references ??= f; break;
                case 11 when Is(f, "In-Reply-To"): inReplyTo ??= f; break;
            }
        }
        var from = Addresses(fromF);
        var sender = Addresses(senderF);
        var replyTo = Addresses(replyToF);
        // RFC 9051 §7.5.2: if Sender or Reply-To is absent (or empty), the server uses From.
        if (sender.Count == 0) sender = from;
        if (replyTo.Count == 0) replyTo = from;
        return new Envelope(
            date?.Value,
            subject?.Value,
            from, sender, replyTo,
            Addresses(toF),
            Addresses(ccF),
            Addresses(bccF),
            inReplyTo?.Value,
            messageId?.Value)
        {
            References = references?.Value,
        };
    }

    private static bool Is(HeaderField f, string name) => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase);

    /// <summary>Converts an address list to ENVELOPE addresses with group markers.</summary>
    public static IReadOnlyList<EnvelopeAddress> ToEnvelopeAddresses(IReadOnlyList<AddressListItem> items)
    {
        var list = new List<EnvelopeAddress>();
        foreach (var item in items)
        {
            if (item.Mailbox is { } m) list.Add(ToEnvelope(m));
            else if (item.Group is { } g)
            {
                list.Add(new EnvelopeAddress(null, null, g.RawName, null));
                foreach (var member in g.Members) list.Add(ToEnvelope(member));
                list.Add(new EnvelopeAddress(null, null, null, null));
            }
        }
        return list;
    }

    private static EnvelopeAddress ToEnvelope(MailAddress m) =>
        new(m.RawDisplayName, m.Route, m.LocalPart, m.Domain);

    private static IReadOnlyList<EnvelopeAddress> Addresses(HeaderField? f)
    {
        if (f is null) return [];
        return ToEnvelopeAddresses(AddressParser.Parse(f.Value));
    }

    /// <summary>The mailboxes of an ENVELOPE address list, group markers dropped.</summary>
    public static IEnumerable<EnvelopeAddress> Mailboxes(IReadOnlyList<EnvelopeAddress> list) =>
        list.Where(a => a.Host is not null);
}
