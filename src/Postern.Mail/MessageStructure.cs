namespace Postern.Mail;

/// <summary>
/// The parsed structure of one message: the MIME tree with byte offsets into the raw bytes,
/// the envelope, the preview and any warnings. Saved with <see cref="ToBytes"/> at delivery so
/// FETCH never parses again; section bodies are read from the raw file by offset.
/// </summary>
public sealed class MessageStructure
{
    internal MessageStructure(MessagePart root, long size, IReadOnlyList<ParseWarning> warnings, string? preview)
    {
        Root = root;
        Size = size;
        Warnings = warnings;
        Preview = preview;
    }

    /// <summary>The top-level message as a part (section ""), with its envelope.</summary>
    public MessagePart Root { get; }

    /// <summary>The envelope of the top-level message.</summary>
    public Envelope Envelope => Root.Envelope ?? EmptyEnvelope;

    /// <summary>Total size of the raw message in bytes.</summary>
    public long Size { get; }

    /// <summary>Irregularities met while parsing (limits hit, missing boundaries...).</summary>
    public IReadOnlyList<ParseWarning> Warnings { get; }

    /// <summary>True when a limit made the parser treat the rest of a part as opaque.</summary>
    public bool Truncated => Warnings.Any(w => w.Kind is ParseWarningKind.HeaderBlockTooLarge or ParseWarningKind.TooManyHeaderFields
        or ParseWarningKind.TooDeep or ParseWarningKind.TooManyParts);

    /// <summary>Preview text (RFC 8970) of the first inline text part, or null when there is none.</summary>
    public string? Preview { get; }

    /// <summary>Parses a whole message held in memory.</summary>
    public static MessageStructure Parse(ReadOnlySpan<byte> message, MessageLimits? limits = null)
    {
        var p = new MessageParser(limits);
        p.Append(message);
        return p.Complete();
    }

    /// <summary>Parses a message from a stream, in chunks.</summary>
    public static async Task<MessageStructure> ParseAsync(Stream stream, MessageLimits? limits = null, CancellationToken cancellationToken = default)
    {
        var p = new MessageParser(limits);
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0) p.Append(buffer.AsSpan(0, n));
        return p.Complete();
    }

    /// <summary>
    /// The part for an IMAP section-part ("1", "2.3"); "" is the whole message. For a
    /// non-multipart message (or embedded message) part "1" is its single body (RFC 9051 §6.4.5).
    /// A message/rfc822 part returned here has the embedded message in
    /// <see cref="MessagePart.EmbeddedMessage"/> (its "HEADER"/"TEXT" ranges). Null when absent.
    /// </summary>
    public MessagePart? FindPart(string section)
    {
        if (string.IsNullOrEmpty(section)) return Root;
        MessagePart message = Root;
        MessagePart? current = null;
        foreach (var piece in section.Split('.'))
        {
            if (!int.TryParse(piece, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < 1) return null;
            if (current is not null)
            {
                // Descending below a part: only into a multipart's children or an embedded message.
                if (current.EmbeddedMessage is { } em) message = em;
                else if (current.IsMultipart) { message = current; }
                else return null;
            }
            if (message.IsMultipart)
            {
                if (n > message.Children.Count) return null;
                current = message.Children[n - 1];
            }
            else
            {
                if (n != 1) return null;
                current = message;
            }
        }
        return current;
    }

    internal static void AssignSections(MessagePart root)
    {
        root.Section = "";
        Assign(root, "");
    }

    // RFC 9051 §6.4.5: children of a multipart are numbered 1..n; a message's non-multipart
    // body is "1" (or prefix + ".1"); the parts of an embedded message take the number of the
    // message/rfc822 part as prefix. Depth is bounded by MessageLimits.MaxDepth.
    private static void Assign(MessagePart message, string prefix)
    {
        if (message.IsMultipart)
        {
            for (int i = 0; i < message.Children.Count; i++)
            {
                var c = message.Children[i];
                string n = (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                c.Section = prefix.Length == 0 ? n : prefix + "." + n;
                if (c.IsMultipart) Assign(c, c.Section);
                else if (c.EmbeddedMessage is { } em)
                {
                    em.Section = c.Section;
                    Assign(em, c.Section);
                }
            }
        }
        else if (message.EmbeddedMessage is { } inner)
        {
            inner.Section = prefix.Length == 0 ? "1" : prefix + ".1";
            Assign(inner, inner.Section);
        }
    }

    /// <summary>Serializes the structure (versioned, compact) for storage.</summary>
    public byte[] ToBytes() => StructureSerializer.Write(this);

    /// <summary>Reads a structure saved by <see cref="ToBytes"/>; throws <see cref="FormatException"/> on corrupt data.</summary>
    public static MessageStructure FromBytes(ReadOnlySpan<byte> data) => StructureSerializer.Read(data);

    private static readonly Envelope EmptyEnvelope = new(null, null, [], [], [], [], [], [], null, null);
}
