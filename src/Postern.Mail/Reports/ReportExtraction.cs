namespace Postern.Mail.Reports;

/// <summary>Finds report attachments in received messages (TLS reports, RFC 8460 §5.3).</summary>
public static class ReportExtraction
{
    /// <summary>Most parts looked at in one message.</summary>
    public const int MaxPartsScanned = 100;

    /// <summary>
    /// The TLS report carried by a message: the first application/tlsrpt+gzip or
    /// application/tlsrpt+json part (RFC 8460 §5.3), decoded and parsed. Null with an error when
    /// the message has no such part or it is invalid.
    /// </summary>
    public static TlsReport? ExtractTlsReport(MessageStructure structure, ReadOnlySpan<byte> rawMessage, out string? error)
    {
        MessagePart? part = FindParts(structure.Root).FirstOrDefault(p =>
            p.ContentType is "application/tlsrpt+gzip" or "application/tlsrpt+json");
        if (part is null)
        {
            error = "no application/tlsrpt+gzip or application/tlsrpt+json part";
            return null;
        }
        if (part.End > rawMessage.Length || part.BodyStart > part.End)
        {
            error = "report part is truncated";
            return null;
        }
        byte[] body = TransferDecoding.Decode(rawMessage[(int)part.BodyStart..(int)part.End], part.ContentTransferEncoding);
        return TlsReport.ParseMaybeGzip(body, out error);
    }

    /// <summary>
    /// The DMARC aggregate report carried by a message (RFC 7489 §7.2.1.1): the first part that
    /// is gzip, zip or XML by media type or file name, decoded and parsed. Null with an error when
    /// there is none or it is invalid.
    /// </summary>
    public static DmarcAggregateReport? ExtractDmarcReport(MessageStructure structure, ReadOnlySpan<byte> rawMessage, out string? error)
    {
        MessagePart? part = FindParts(structure.Root).FirstOrDefault(IsDmarcReportPart);
        if (part is null)
        {
            error = "no gzip, zip or XML part";
            return null;
        }
        if (part.End > rawMessage.Length || part.BodyStart > part.End)
        {
            error = "report part is truncated";
            return null;
        }
        byte[] body = TransferDecoding.Decode(rawMessage[(int)part.BodyStart..(int)part.End], part.ContentTransferEncoding);
        return DmarcAggregateReport.Parse(body, out error);
    }

    private static bool IsDmarcReportPart(MessagePart p) =>
        p.ContentType is "application/gzip" or "application/x-gzip" or "application/zip" or "application/x-zip-compressed"
            or "application/x-zip" or "text/xml" or "application/xml"
        || (p.ContentType == "application/octet-stream" && p.FileName is { } name
            && (name.EndsWith(".xml.gz", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".zip", StringComparison.OrdinalIgnoreCase)
                || name.EndsWith(".xml", StringComparison.OrdinalIgnoreCase)));

    /// <summary>The parts of a message, depth first, at most <see cref="MaxPartsScanned"/>.</summary>
    internal static IEnumerable<MessagePart> FindParts(MessagePart root)
    {
        var stack = new Stack<MessagePart>();
        stack.Push(root);
        int seen = 0;
        while (stack.Count > 0 && seen++ < MaxPartsScanned)
        {
            MessagePart p = stack.Pop();
            yield return p;
            for (int i = p.Children.Count - 1; i >= 0; i--)
                stack.Push(p.Children[i]);
        }
    }
}
