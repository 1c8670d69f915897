// ENVELOPE and BODYSTRUCTURE (RFC 9051 §7.5.2) from Postern.Mail's parsed structure, and the
// byte ranges of BODY[section] (RFC 9051 §6.4.5) in the stored message. The stored message is
// the delivery prefix followed by the raw bytes the structure offsets refer to.
using Postern.Imap.Protocol;
using Postern.Mail;

namespace Postern.Imap.Server;

internal static class MessageRendering
{
    public static void WriteEnvelope(ImapResponseWriter w, Envelope e)
    {
        w.Byte((byte)'(').NString(e.Date).Sp().NString(e.Subject).Sp();
        WriteAddresses(w, e.From);
        w.Sp();
        WriteAddresses(w, e.Sender);
        w.Sp();
        WriteAddresses(w, e.ReplyTo);
        w.Sp();
        WriteAddresses(w, e.To);
        w.Sp();
        WriteAddresses(w, e.Cc);
        w.Sp();
        WriteAddresses(w, e.Bcc);
        w.Sp().NString(e.InReplyTo).Sp().NString(e.MessageId).Byte((byte)')');
    }

    private static void WriteAddresses(ImapResponseWriter w, IReadOnlyList<EnvelopeAddress> list)
    {
        if (list.Count == 0)
        {
            w.Nil();
            return;
        }
        w.Byte((byte)'(');
        foreach (EnvelopeAddress a in list)
            w.Byte((byte)'(').NString(a.Name).Sp().NString(a.Adl).Sp().NString(a.Mailbox).Sp().NString(a.Host).Byte((byte)')');
        w.Byte((byte)')');
    }

    /// <summary>Writes BODYSTRUCTURE (extensible) or BODY (not extensible).</summary>
    public static void WriteBodyStructure(ImapResponseWriter w, MessagePart part, bool extensible)
    {
        if (part.IsMultipart && part.Children.Count > 0)
        {
            w.Byte((byte)'(');
            foreach (MessagePart child in part.Children)
                WriteBodyStructure(w, child, extensible);
            w.Sp().String(part.MediaSubtype.ToUpperInvariant());
            if (extensible)
            {
                w.Sp();
                WriteParams(w, part.ContentTypeParameters);
                w.Sp();
                WriteDispositionLanguageLocation(w, part);
            }
            w.Byte((byte)')');
            return;
        }
        string type = part.IsMultipart ? "TEXT" : part.MediaType.ToUpperInvariant();
        string subtype = part.IsMultipart ? "PLAIN" : part.MediaSubtype.ToUpperInvariant();
        w.Byte((byte)'(').String(type).Sp().String(subtype).Sp();
        WriteParams(w, part.ContentTypeParameters);
        w.Sp().NString(part.ContentId).Sp().NString(part.ContentDescription).Sp()
            .String((part.ContentTransferEncoding ?? "7bit").ToUpperInvariant()).Sp().Number((ulong)part.BodyOctets);
        if (part.EmbeddedMessage is MessagePart embedded)
        {
            // RFC 9051 §7.5.2 body-type-msg: envelope, body, lines.
            w.Sp();
            WriteEnvelope(w, embedded.Envelope ?? EmptyEnvelope);
            w.Sp();
            WriteBodyStructure(w, embedded, extensible);
            w.Sp().Number((ulong)part.BodyLines);
        }
        else if (type == "TEXT")
        {
            w.Sp().Number((ulong)part.BodyLines);
        }
        if (extensible)
        {
            w.Sp().NString(part.ContentMd5).Sp();
            WriteDispositionLanguageLocation(w, part);
        }
        w.Byte((byte)')');
    }

    private static readonly Envelope EmptyEnvelope = new(null, null, [], [], [], [], [], [], null, null);

    private static void WriteParams(ImapResponseWriter w, IReadOnlyList<MimeParameter> ps)
    {
        if (ps.Count == 0)
        {
            w.Nil();
            return;
        }
        w.Byte((byte)'(');
        for (int i = 0; i < ps.Count; i++)
        {
            if (i > 0)
                w.Sp();
            w.String(ps[i].Name.ToUpperInvariant()).Sp().String(ps[i].Value);
        }
        w.Byte((byte)')');
    }

    private static void WriteDispositionLanguageLocation(ImapResponseWriter w, MessagePart part)
    {
        if (part.Disposition is null)
        {
            w.Nil();
        }
        else
        {
            w.Byte((byte)'(').String(part.Disposition.ToUpperInvariant()).Sp();
            WriteParams(w, part.DispositionParameters);
            w.Byte((byte)')');
        }
        w.Sp();
        if (part.ContentLanguage.Count == 0)
        {
            w.Nil();
        }
        else
        {
            w.Byte((byte)'(');
            for (int i = 0; i < part.ContentLanguage.Count; i++)
            {
                if (i > 0)
                    w.Sp();
                w.String(part.ContentLanguage[i]);
            }
            w.Byte((byte)')');
        }
        w.Sp().NString(part.ContentLocation);
    }

    /// <summary>
    /// Where a section lies in the stored message (prefix included): [Start, End). Null when the
    /// part does not exist (RFC 9051 §6.4.5: the server then returns an empty string). For
    /// HEADER.FIELDS(.NOT) the range is the header to filter.
    /// </summary>
    public static (long Start, long End)? SectionRange(long size, int prefixLength, MessageStructure structure, Section section)
    {
        MessagePart? part = section.Part.Count == 0 ? structure.Root : structure.FindPart(string.Join('.', section.Part));
        if (part is null)
            return null;
        long p = prefixLength;
        bool top = section.Part.Count == 0;
        // For a message/rfc822 part, HEADER/TEXT refer to the embedded message.
        MessagePart msg = top ? part : part.EmbeddedMessage ?? part;
        (long, long) range;
        switch (section.Text)
        {
            case SectionText.None:
                range = top ? (0, size) : (p + part.BodyStart, p + part.End);
                break;
            case SectionText.Mime:
                range = (p + part.HeaderStart, p + part.BodyStart);
                break;
            case SectionText.Text:
                if (!top && part.EmbeddedMessage is null)
                    return null;
                range = (p + msg.BodyStart, p + msg.End);
                break;
            default:
                if (!top && part.EmbeddedMessage is null)
                    return null;
                range = top ? (0, p + msg.BodyStart) : (p + msg.HeaderStart, p + msg.BodyStart);
                break;
        }
        long start = Math.Clamp(range.Item1, 0, size);
        long end = Math.Clamp(range.Item2, start, size);
        return (start, end);
    }

    /// <summary>The bytes of a section read from the stored message (small sections: headers, MIME headers, decoded parts).</summary>
    public static async Task<byte[]?> ReadSectionAsync(Stream content, long size, int prefixLength, MessageStructure structure, Section section)
    {
        if (SectionRange(size, prefixLength, structure, section) is not (long start, long end))
            return null;
        byte[] bytes = await ReadRangeAsync(content, start, end - start).ConfigureAwait(false);
        return section.Text is SectionText.HeaderFields or SectionText.HeaderFieldsNot
            ? FilterHeader(bytes, section.Fields, section.Text == SectionText.HeaderFieldsNot)
            : bytes;
    }

    public static async Task<byte[]> ReadRangeAsync(Stream content, long start, long length)
    {
        var bytes = new byte[length];
        content.Position = start;
        await content.ReadExactlyAsync(bytes).ConfigureAwait(false);
        return bytes;
    }

    /// <summary>Keeps (or drops) the named fields, with their continuation lines, and ends with the blank line.</summary>
    public static byte[] FilterHeader(byte[] header, IReadOnlyList<string> fields, bool exclude)
    {
        var names = new HashSet<string>(fields, StringComparer.OrdinalIgnoreCase);
        using var output = new MemoryStream();
        int pos = 0;
        bool keep = false;
        while (pos < header.Length)
        {
            int lf = Array.IndexOf(header, (byte)'\n', pos);
            int end = lf < 0 ? header.Length : lf + 1;
            ReadOnlySpan<byte> line = header.AsSpan(pos, end - pos);
            bool blank = line.Length == 0 || line[0] == (byte)'\r' || line[0] == (byte)'\n';
            if (blank)
                break;
            if (line[0] is not ((byte)' ' or (byte)'\t'))
            {
                int colon = line.IndexOf((byte)':');
                string name = colon < 0 ? "" : System.Text.Encoding.ASCII.GetString(line[..colon]).Trim();
                keep = names.Contains(name) != exclude && colon > 0;
            }
            if (keep)
                output.Write(line);
            pos = end;
        }
        output.Write("\r\n"u8);
        return output.ToArray();
    }

    /// <summary>Decoded content of a part for BINARY[] (RFC 3516); null when the encoding is unknown.</summary>
    public static async Task<byte[]?> DecodeBinaryAsync(Stream content, long size, int prefixLength, MessageStructure structure, IReadOnlyList<int> partPath)
    {
        if (partPath.Count == 0)
            return await ReadRangeAsync(content, 0, size).ConfigureAwait(false);
        MessagePart? part = structure.FindPart(string.Join('.', partPath));
        if (part is null)
            return [];
        if (!TransferDecoding.IsKnown(part.ContentTransferEncoding))
            return null;
        byte[] body = await ReadRangeAsync(content, prefixLength + part.BodyStart, part.End - part.BodyStart).ConfigureAwait(false);
        return TransferDecoding.Decode(body, part.ContentTransferEncoding);
    }
}
