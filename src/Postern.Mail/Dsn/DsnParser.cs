using System.Globalization;

namespace Postern.Mail.Dsn;

/// <summary>One recipient's fields from a received DSN (RFC 3464 §2.3); any may be missing in real-world reports.</summary>
/// <param name="FinalRecipient">Final-Recipient, or null when absent or unusable.</param>
/// <param name="OriginalRecipient">Original-Recipient, or null.</param>
/// <param name="Action">The Action keyword lowercased as written (may be an unknown value), or null.</param>
/// <param name="Status">The Status code (<c>5.1.1</c>), or null when absent or malformed.</param>
/// <param name="RemoteMta">The Remote-MTA name (after the type), or null.</param>
/// <param name="DiagnosticType">The Diagnostic-Code type lowercased (<c>smtp</c>, <c>x-postfix</c>…), or null.</param>
/// <param name="DiagnosticCode">The Diagnostic-Code text after the type, unfolded, or null.</param>
/// <param name="LastAttemptDate">Last-Attempt-Date, or null.</param>
/// <param name="WillRetryUntil">Will-Retry-Until, or null.</param>
public sealed record ParsedDsnRecipient(
    DsnAddress? FinalRecipient,
    DsnAddress? OriginalRecipient,
    string? Action,
    string? Status,
    string? RemoteMta,
    string? DiagnosticType,
    string? DiagnosticCode,
    DateTimeOffset? LastAttemptDate,
    DateTimeOffset? WillRetryUntil)
{
    /// <summary>The action as an enum value, or null when absent or not one of RFC 3464's.</summary>
    public DsnAction? ActionValue => Action switch
    {
        "failed" => DsnAction.Failed,
        "delayed" => DsnAction.Delayed,
        "delivered" => DsnAction.Delivered,
        "relayed" => DsnAction.Relayed,
        "expanded" => DsnAction.Expanded,
        _ => null,
    };
}

/// <summary>What <see cref="DsnParser.Parse"/> found in a DSN.</summary>
/// <param name="Global">The status part was message/global-delivery-status (RFC 6533).</param>
/// <param name="OriginalEnvelopeId">Original-Envelope-Id, or null.</param>
/// <param name="ReportingMta">The Reporting-MTA name (after the type), or null.</param>
/// <param name="ArrivalDate">Arrival-Date, or null.</param>
/// <param name="Recipients">The per-recipient groups, in order (empty when the status part is missing).</param>
/// <param name="OriginalMessageId">The Message-ID of the returned message or header, without angle brackets, or null.</param>
public sealed record ParsedDsn(
    bool Global,
    string? OriginalEnvelopeId,
    string? ReportingMta,
    DateTimeOffset? ArrivalDate,
    IReadOnlyList<ParsedDsnRecipient> Recipients,
    string? OriginalMessageId);

/// <summary>
/// Recognises a delivery status notification (multipart/report with report-type
/// delivery-status, RFC 6522 / RFC 3464, or its RFC 6533 global form) and extracts its
/// fields. Never throws on bad input; every size is bounded.
/// </summary>
public static class DsnParser
{
    /// <summary>Largest status part interpreted; the rest is ignored.</summary>
    public const int MaxStatusBytes = 256 * 1024;

    /// <summary>Most per-recipient groups returned.</summary>
    public const int MaxRecipients = 1000;

    /// <summary>Longest field value kept; longer values are cut.</summary>
    public const int MaxFieldLength = 2000;

    private static readonly MessageLimits Limits = new(MaxHeaderBlockBytes: 64 * 1024, MaxDepth: 8, MaxParts: 100, MaxHeaderFields: 500);

    /// <summary>Parses <paramref name="message"/>; null when it is not a delivery status notification.</summary>
    public static ParsedDsn? Parse(ReadOnlySpan<byte> message)
    {
        try
        {
            return ParseCore(message);
        }
#pragma warning disable CA1031 // The parser's contract is to never throw on input; a bug must not turn into a crash of the caller.
        catch (Exception)
#pragma warning restore CA1031
        {
            return null;
        }
    }

    private static ParsedDsn? ParseCore(ReadOnlySpan<byte> message)
    {
        var structure = MessageStructure.Parse(message, Limits);
        var root = structure.Root;
        // RFC 6522 §3: multipart/report is the outermost type; report-type names the report.
        if (root.ContentType != "multipart/report") return null;
        string? reportType = MessagePart.Param(root.ContentTypeParameters, "report-type")?.Trim().ToLowerInvariant();
        if (reportType is not ("delivery-status" or "global-delivery-status")) return null;

        MessagePart? status = null;
        string? originalMessageId = null;
        foreach (var part in root.Children)
        {
            switch (part.ContentType)
            {
                case "message/delivery-status" or "message/global-delivery-status" when status is null:
                    status = part;
                    break;
                case "message/rfc822" or "message/global" when originalMessageId is null:
                    if (part.EmbeddedMessage is { } em)
                        originalMessageId = MessageIdOf(em.ParseHeaders(message));
                    else
                        originalMessageId = MessageIdOf(HeaderList.Parse(Body(message, part)));
                    break;
                case "text/rfc822-headers" or "message/global-headers" when originalMessageId is null:
                    originalMessageId = MessageIdOf(HeaderList.Parse(Body(message, part)));
                    break;
            }
        }
        if (status is null)
            return new ParsedDsn(reportType == "global-delivery-status", null, null, null, [], originalMessageId);

        var groups = SplitGroups(Body(message, status));
        bool global = status.MediaSubtype == "global-delivery-status";
        string? envid = null, reportingMta = null;
        DateTimeOffset? arrival = null;
        var recipients = new List<ParsedDsnRecipient>();
        for (int g = 0; g < groups.Count; g++)
        {
            var fields = HeaderList.Parse(groups[g], maxFields: 100);
            if (g == 0)
            {
                // Per-message fields (RFC 3464 §2.2).
                envid = Value(fields, "Original-Envelope-Id");
                reportingMta = AfterType(Value(fields, "Reporting-MTA"));
                arrival = MailDate.Parse(Value(fields, "Arrival-Date"));
                // Some generators put no empty line before the first recipient: then the group is both.
                if (fields.Get("Final-Recipient") is null) continue;
            }
            if (fields.Count == 0) continue;
            if (recipients.Count >= MaxRecipients) break;
            var (diagType, diagText) = SplitType(Value(fields, "Diagnostic-Code"));
            string? statusCode = Value(fields, "Status");
            // The status may carry a comment ("5.0.0 (permanent failure)"): keep the code only.
            statusCode = statusCode?.Split(' ', '(')[0];
            recipients.Add(new ParsedDsnRecipient(
                Address(Value(fields, "Final-Recipient")),
                Address(Value(fields, "Original-Recipient")),
                Value(fields, "Action")?.ToLowerInvariant(),
                DsnBuilder.IsStatusCode(statusCode) ? statusCode : null,
                AfterType(Value(fields, "Remote-MTA")),
                diagType,
                diagText,
                MailDate.Parse(Value(fields, "Last-Attempt-Date")),
                MailDate.Parse(Value(fields, "Will-Retry-Until"))));
        }
        return new ParsedDsn(global, envid, reportingMta, arrival, recipients, originalMessageId);
    }

    // The decoded body of a part (global-delivery-status and the header parts may be encoded), bounded.
    private static ReadOnlyMemory<byte> Body(ReadOnlySpan<byte> message, MessagePart part)
    {
        long start = Math.Min(part.BodyStart, message.Length);
        long end = Math.Min(part.End, message.Length);
        var raw = message[(int)start..(int)end];
        // Encoded bodies shrink when decoded: bound the input so the output is bounded too.
        if (raw.Length > MaxStatusBytes * 2) raw = raw[..(MaxStatusBytes * 2)];
        var decoded = TransferDecoding.Decode(raw, part.ContentTransferEncoding);
        return decoded.Length > MaxStatusBytes ? decoded.AsMemory(0, MaxStatusBytes) : decoded;
    }

    // Groups of fields separated by empty lines (RFC 3464 §2.1); lines holding only whitespace count as empty.
    private static List<ReadOnlyMemory<byte>> SplitGroups(ReadOnlyMemory<byte> body)
    {
        var groups = new List<ReadOnlyMemory<byte>>();
        var span = body.Span;
        int groupStart = -1, pos = 0;
        while (pos <= span.Length && groups.Count <= MaxRecipients)
        {
            int nl = pos < span.Length ? span[pos..].IndexOf((byte)'\n') : -1;
            int lineEnd = nl < 0 ? span.Length : pos + nl;
            bool blank = span[pos..lineEnd].Trim(" \t\r"u8).Length == 0;
            if (blank)
            {
                if (groupStart >= 0) groups.Add(body[groupStart..pos]);
                groupStart = -1;
            }
            else if (groupStart < 0) groupStart = pos;
            if (nl < 0) break;
            pos = lineEnd + 1;
        }
        if (groupStart >= 0) groups.Add(body[groupStart..]);
        return groups;
    }

    private static string? Value(HeaderList fields, string name)
    {
        var v = fields.GetValue(name);
        if (string.IsNullOrEmpty(v)) return null;
        if (v.Length > MaxFieldLength) v = v[..MaxFieldLength];
        // Folding leaves the continuation's indentation: collapse runs of whitespace to one space.
        return CollapseWhitespace(v);
    }

    private static string CollapseWhitespace(string v)
    {
        if (!v.Contains("  ", StringComparison.Ordinal) && !v.Contains('\t', StringComparison.Ordinal)) return v;
        var sb = new System.Text.StringBuilder(v.Length);
        bool space = false;
        foreach (char c in v)
        {
            if (c is ' ' or '\t')
            {
                if (!space) sb.Append(' ');
                space = true;
            }
            else
            {
                sb.Append(c);
                space = false;
            }
        }
        return sb.ToString();
    }

    private static DsnAddress? Address(string? value)
    {
        if (value is null) return null;
        var a = DsnAddress.ParseField(value);
        if (a is null) return null;
        // Some generators write "rfc822; <user@example>".
        string addr = a.Address;
        if (addr.Length >= 2 && addr[0] == '<' && addr[^1] == '>') addr = addr[1..^1].Trim();
        return addr.Length == 0 ? null : a with { Address = addr };
    }

    private static string? AfterType(string? value)
    {
        var (_, text) = SplitType(value);
        return text;
    }

    // "type; text" → (type lowercased, text); a value without ";" is all text.
    private static (string? Type, string? Text) SplitType(string? value)
    {
        if (value is null) return (null, null);
        int semi = value.IndexOf(';', StringComparison.Ordinal);
        if (semi < 0) return (null, value.Trim());
        string type = value[..semi].Trim().ToLower(CultureInfo.InvariantCulture);
        string text = value[(semi + 1)..].Trim();
        return (type.Length == 0 ? null : type, text.Length == 0 ? null : text);
    }

    private static string? MessageIdOf(HeaderList headers)
    {
        var v = headers.GetValue("Message-ID");
        if (v is null) return null;
        if (v.Length > MaxFieldLength) v = v[..MaxFieldLength];
        return Threading.ParseMessageIds(v).FirstOrDefault();
    }
}
