using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Postern.Mail.Dsn;

// Design: a DSN is a multipart/report (RFC 6522) with three parts: a human-readable
// text/plain explanation, the machine-readable message/delivery-status (RFC 3464), and the
// original message (message/rfc822) or only its header (text/rfc822-headers). When an
// address or the original needs UTF-8 (SMTPUTF8 mail) the RFC 6533 forms are used instead:
// message/global-delivery-status, message/global, message/global-headers, and the
// "utf-8" address type. Otherwise the output is 7-bit clean, so it can go to any server:
// an original with 8-bit body octets is returned as headers only, and 8-bit octets in
// returned headers are quoted-printable encoded (text/rfc822-headers is a text type).
//
// What is returned (RFC 3461 §4.3): RET=HDRS → headers; RET=FULL → the full message in a
// "failed" DSN, headers in the others (the RET=FULL request is about failures); no RET →
// the full message when a recipient failed, headers otherwise. An original larger than
// DsnReport.MaxFullReturnBytes is always returned as headers only.

/// <summary>Builds delivery status notifications (RFC 3464, RFC 6522, RFC 6533) as complete messages.</summary>
public static class DsnBuilder
{
    /// <summary>Longest diagnostic text written; longer replies are cut (the field stays within the 998-octet line limit).</summary>
    public const int MaxDiagnosticLength = 900;

    /// <summary>
    /// Builds the DSN: header and body with CRLF line endings. The envelope sender of the DSN
    /// must be the null path (RFC 3461 §6.1); the caller sends it so.
    /// Throws <see cref="ArgumentException"/> when <see cref="DsnReport.To"/> is the null path or
    /// malformed, when there are no recipients, or when a status code is invalid.
    /// </summary>
    public static byte[] Build(DsnReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        string to = report.To.Trim();
        // RFC 3461 §6.1 / RFC 5321 §4.5.5: a DSN is never sent to the null reverse-path.
        if (to.Length == 0 || to == "<>")
            throw new ArgumentException("A DSN is never sent to the null sender.", nameof(report));
        if (to.StartsWith('<') && to.EndsWith('>')) to = to[1..^1];
        if (to.Length == 0 || to.Any(c => c < 0x20 || c == 0x7f) || !to.Contains('@', StringComparison.Ordinal))
            throw new ArgumentException("The DSN recipient is not an address.", nameof(report));
        if (report.Recipients.Count == 0)
            throw new ArgumentException("A DSN reports on at least one recipient.", nameof(report));
        foreach (var r in report.Recipients)
            if (!IsStatusCode(r.Status))
                throw new ArgumentException($"Invalid status code {r.Status}.", nameof(report));

        string host = SafeToken(report.ReportingMta, "localhost");
        var original = report.OriginalMessage;
        int headerEnd = FindHeaderEnd(original.Span).HeaderEnd;
        bool anyFailed = report.Recipients.Any(r => r.Action == DsnAction.Failed);
        bool full = report.Return switch
        {
            DsnReturn.Headers => false,
            _ => anyFailed,
        };
        string? note = null;
        if (full && original.Length > report.MaxFullReturnBytes)
        {
            full = false;
            note = "The message was too large to be returned in full; only its header is attached.";
        }

        bool global = report.Utf8 || !Ascii.IsValid(to) || report.Recipients.Any(r =>
            r.FinalRecipient.NeedsUtf8 || r.OriginalRecipient?.NeedsUtf8 == true);
        var headerSpan = original.Span[..headerEnd];
        bool header8Bit = !Ascii.IsValid(headerSpan);
        bool body8Bit = full && !Ascii.IsValid(original.Span[headerEnd..]);
        if (full && !global && (header8Bit || body8Bit))
        {
            // A 7-bit DSN cannot carry 8-bit octets inside message/rfc822 (RFC 2046 §5.2.1 forbids
            // encodings there): return the header only, quoted-printable when it has 8-bit octets.
            full = false;
            note = "The message has 8-bit content and is not returned in full; only its header is attached.";
        }
        if (full && (HasLongLine(original.Span) || original.Span.Contains((byte)0)))
        {
            // RFC 5322 §2.1.1, §3.5: lines of at most 998 octets and no NUL; message/rfc822 cannot be re-encoded.
            full = false;
            note = "The message has lines longer than 998 octets or NUL octets and is not returned in full; only its header is attached.";
        }
        var returned = full ? original.Span : headerSpan;
        bool returned8Bit = header8Bit || (full && body8Bit);
        // A header with an over-long line or a NUL goes as quoted-printable text/rfc822-headers (folded, NUL as =00).
        bool headerNeedsEncoding = !full && (HasLongLine(headerSpan) || headerSpan.Contains((byte)0));
        string? originalMessageId = OriginalMessageId(original.Span[..headerEnd]);

        var now = report.Date ?? DateTimeOffset.UtcNow;
        string boundary = MakeBoundary(original.Span);
        string messageId = report.MessageId ?? RandomHex(16) + "@" + host;
        string from = report.From ?? "MAILER-DAEMON@" + host;
        var action = Summary(report.Recipients);

        var sb = new StringBuilder(4096);
        // The header (RFC 5322 §3.6; RFC 3834 §5 Auto-Submitted; RFC 6522 §3 multipart/report).
        sb.Append(HeaderFormatter.Format("From", "\"Mail Delivery Subsystem\" <" + from + ">"));
        sb.Append(HeaderFormatter.Format("To", "<" + to + ">"));
        sb.Append(HeaderFormatter.FormatUnstructured("Subject", SubjectFor(action)));
        sb.Append(HeaderFormatter.Format("Date", MailDate.Format(now)));
        sb.Append(HeaderFormatter.Format("Message-ID", "<" + messageId + ">"));
        if (originalMessageId is not null)
        {
            sb.Append(HeaderFormatter.Format("In-Reply-To", "<" + originalMessageId + ">"));
            sb.Append(HeaderFormatter.Format("References", "<" + originalMessageId + ">"));
        }
        sb.Append("Auto-Submitted: auto-replied\r\n");
        sb.Append("MIME-Version: 1.0\r\n");
        sb.Append(HeaderFormatter.Format("Content-Type", "multipart/report; report-type=delivery-status; boundary=\"" + boundary + "\""));
        sb.Append("\r\n");
        sb.Append("This is a MIME-formatted delivery status notification.\r\n");

        // Part 1: human-readable explanation (RFC 6522 §3 first part).
        sb.Append("\r\n--").Append(boundary).Append("\r\n");
        string text = HumanText(report, host, action, note, global);
        bool text8 = !Ascii.IsValid(text);
        sb.Append("Content-Type: text/plain; charset=").Append(text8 ? "utf-8" : "us-ascii").Append("\r\n");
        if (text8) sb.Append("Content-Transfer-Encoding: 8bit\r\n");
        sb.Append("Content-Description: Notification\r\n\r\n");
        sb.Append(text);

        // Part 2: machine-readable status (RFC 3464 §2; RFC 6533 §6 global form).
        sb.Append("\r\n--").Append(boundary).Append("\r\n");
        sb.Append("Content-Type: message/").Append(global ? "global-delivery-status" : "delivery-status").Append("\r\n");
        if (global) sb.Append("Content-Transfer-Encoding: 8bit\r\n");
        sb.Append("Content-Description: Delivery report\r\n\r\n");
        AppendStatusFields(sb, report, host, global);

        // Part 3: the original message or its header (RFC 6522 §3 third part; RFC 6533 §6.3, §6.4).
        var output = new MemoryStream(sb.Length + returned.Length + 256);
        if (original.Length > 0)
        {
            sb.Append("\r\n--").Append(boundary).Append("\r\n");
            if (full)
            {
                sb.Append("Content-Type: message/").Append(global && header8Bit ? "global" : "rfc822").Append("\r\n");
                if (returned8Bit) sb.Append("Content-Transfer-Encoding: 8bit\r\n");
                sb.Append("Content-Description: Undelivered message\r\n\r\n");
                Write(output, sb);
                WriteCrlfNormalized(output, returned);
            }
            else if (global && returned8Bit && !headerNeedsEncoding)
            {
                sb.Append("Content-Type: message/global-headers\r\nContent-Transfer-Encoding: 8bit\r\n");
                sb.Append("Content-Description: Message header\r\n\r\n");
                Write(output, sb);
                WriteCrlfNormalized(output, returned);
            }
            else if (returned8Bit || headerNeedsEncoding)
            {
                sb.Append("Content-Type: text/rfc822-headers; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n");
                sb.Append("Content-Description: Message header\r\n\r\n");
                Write(output, sb);
                WriteQuotedPrintable(output, returned);
            }
            else
            {
                sb.Append("Content-Type: text/rfc822-headers\r\n");
                sb.Append("Content-Description: Message header\r\n\r\n");
                Write(output, sb);
                WriteCrlfNormalized(output, returned);
            }
            EnsureFinalCrlf(output);
            sb.Append("--").Append(boundary).Append("--\r\n");
        }
        else
        {
            sb.Append("\r\n--").Append(boundary).Append("--\r\n");
        }
        Write(output, sb);
        return output.ToArray();
    }

    private static void AppendStatusFields(StringBuilder sb, DsnReport report, string host, bool global)
    {
        // Per-message fields (RFC 3464 §2.2).
        if (report.EnvelopeId is { Length: > 0 } envid)
            sb.Append(HeaderFormatter.Format("Original-Envelope-Id", SafeText(envid, global)));
        sb.Append("Reporting-MTA: dns; ").Append(host).Append("\r\n");
        if (report.ArrivalDate is { } arrival)
            sb.Append("Arrival-Date: ").Append(MailDate.Format(arrival)).Append("\r\n");
        // Per-recipient fields (RFC 3464 §2.3), each group after an empty line.
        foreach (var r in report.Recipients)
        {
            sb.Append("\r\n");
            if (r.OriginalRecipient is { } orcpt)
                sb.Append(HeaderFormatter.Format("Original-Recipient", global ? orcpt.ToString() : orcpt.ToAsciiForm()));
            sb.Append(HeaderFormatter.Format("Final-Recipient", global ? r.FinalRecipient.ToString() : r.FinalRecipient.ToAsciiForm()));
            sb.Append("Action: ").Append(ActionName(r.Action)).Append("\r\n");
            sb.Append("Status: ").Append(r.Status).Append("\r\n");
            if (r.RemoteMta is { Length: > 0 } mta)
                sb.Append("Remote-MTA: dns; ").Append(SafeToken(mta, "unknown")).Append("\r\n");
            if (r.DiagnosticCode is { Length: > 0 } diag)
            {
                string t = SafeText(diag, global);
                if (t.Length > MaxDiagnosticLength) t = t[..MaxDiagnosticLength];
                sb.Append(HeaderFormatter.Format("Diagnostic-Code", SafeToken(r.DiagnosticType, "smtp") + "; " + t));
            }
            if (r.LastAttemptDate is { } last)
                sb.Append("Last-Attempt-Date: ").Append(MailDate.Format(last)).Append("\r\n");
            if (r.Action == DsnAction.Delayed && r.WillRetryUntil is { } until)
                sb.Append("Will-Retry-Until: ").Append(MailDate.Format(until)).Append("\r\n");
        }
    }

    private static string HumanText(DsnReport report, string host, DsnAction summary, string? note, bool global)
    {
        var t = new StringBuilder();
        t.Append("This is the mail system at ").Append(host).Append(".\r\n\r\n");
        t.Append(summary switch
        {
            DsnAction.Failed => "Your message could not be delivered to one or more recipients.\r\nThis is a permanent error; the mail system has given up.\r\n",
            DsnAction.Delayed => "Your message has not been delivered yet to one or more recipients.\r\nThe mail system will keep trying; you do not need to send it again.\r\n",
            DsnAction.Delivered => "Your message was delivered to the following recipients.\r\n",
            DsnAction.Relayed => "Your message was passed on to a system that does not report delivery.\r\n",
            _ => "Your message was forwarded to the members of the following addresses.\r\n",
        });
        foreach (var r in report.Recipients)
        {
            t.Append("\r\n<").Append(SafeText(r.FinalRecipient.Address, global)).Append(">: ").Append(ActionName(r.Action));
            t.Append(" (status ").Append(r.Status).Append(")\r\n");
            if (r.DiagnosticCode is { Length: > 0 } diag)
            {
                string d = SafeText(diag, global);
                if (d.Length > MaxDiagnosticLength) d = d[..MaxDiagnosticLength];
                string said = r.RemoteMta is { Length: > 0 } mta ? SafeToken(mta, "the remote server") + " said: " : "";
                t.Append("    ").Append(Wrap(said + d, 72, "    ")).Append("\r\n");
            }
            if (r.Action == DsnAction.Delayed && r.WillRetryUntil is { } until)
                t.Append("    Attempts continue until ").Append(MailDate.Format(until)).Append(".\r\n");
        }
        if (note is not null) t.Append("\r\n").Append(note).Append("\r\n");
        return t.ToString();
    }

    // Wraps at spaces so the text part keeps lines short; a long word stays whole.
    private static string Wrap(string s, int width, string indent)
    {
        var sb = new StringBuilder();
        int lineLen = 0;
        foreach (var w in s.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (lineLen > 0 && lineLen + 1 + w.Length > width) { sb.Append("\r\n").Append(indent); lineLen = 0; }
            else if (lineLen > 0) { sb.Append(' '); lineLen++; }
            sb.Append(w);
            lineLen += w.Length;
        }
        return sb.ToString();
    }

    /// <summary>The RFC 3464 §2.3.3 action keyword.</summary>
    public static string ActionName(DsnAction a) => a switch
    {
        DsnAction.Failed => "failed",
        DsnAction.Delayed => "delayed",
        DsnAction.Delivered => "delivered",
        DsnAction.Relayed => "relayed",
        _ => "expanded",
    };

    // The most significant action decides the subject and summary: failed, then delayed.
    private static DsnAction Summary(IReadOnlyList<DsnRecipient> recipients)
    {
        if (recipients.Any(r => r.Action == DsnAction.Failed)) return DsnAction.Failed;
        if (recipients.Any(r => r.Action == DsnAction.Delayed)) return DsnAction.Delayed;
        if (recipients.Any(r => r.Action == DsnAction.Delivered)) return DsnAction.Delivered;
        if (recipients.Any(r => r.Action == DsnAction.Relayed)) return DsnAction.Relayed;
        return DsnAction.Expanded;
    }

    private static string SubjectFor(DsnAction a) => a switch
    {
        DsnAction.Failed => "Undelivered Mail Returned to Sender",
        DsnAction.Delayed => "Delayed Mail (still being retried)",
        DsnAction.Delivered => "Successful Mail Delivery Report",
        DsnAction.Relayed => "Mail Relayed (no further delivery reports)",
        _ => "Mail Expanded to Several Recipients",
    };

    /// <summary>True for an RFC 3463 status code: class 2, 4 or 5, subject 1-3 digits, detail 1-3 digits.</summary>
    public static bool IsStatusCode(string? s)
    {
        if (s is null || s.Length < 5 || s[0] is not ('2' or '4' or '5') || s[1] != '.') return false;
        var parts = s[2..].Split('.');
        return parts.Length == 2 && parts.All(p => p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit));
    }

    // A host name or type keyword: only characters that cannot break the field syntax.
    private static string SafeToken(string? s, string fallback)
    {
        if (string.IsNullOrWhiteSpace(s)) return fallback;
        var sb = new StringBuilder(Math.Min(s.Length, 255));
        foreach (char c in s.Trim())
        {
            if (sb.Length >= 255) break;
            if (char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or '[' or ']' or ':') sb.Append(c);
        }
        return sb.Length == 0 ? fallback : sb.ToString();
    }

    // Text for a field or the text part: controls become spaces, non-ASCII becomes "?" unless UTF-8 is allowed.
    private static string SafeText(string s, bool utf8)
    {
        if (s.Length > 4 * MaxDiagnosticLength) s = s[..(4 * MaxDiagnosticLength)];
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            if (c < 0x20 || c == 0x7f) sb.Append(' ');
            else if (c > 0x7e && !utf8) sb.Append('?');
            else sb.Append(c);
        }
        return sb.ToString().Trim();
    }

    // Returns (end of header block excluding the blank line, start of body); header-only input gives (len, len).
    internal static (int HeaderEnd, int BodyStart) FindHeaderEnd(ReadOnlySpan<byte> m)
    {
        if (m.StartsWith("\r\n"u8)) return (0, 2);
        if (m.StartsWith("\n"u8)) return (0, 1);
        int crlf = m.IndexOf("\r\n\r\n"u8);
        int lf = m.IndexOf("\n\n"u8);
        if (crlf >= 0 && (lf < 0 || crlf + 1 <= lf)) return (crlf + 2, crlf + 4);
        if (lf >= 0) return (lf + 1, lf + 2);
        return (m.Length, m.Length);
    }

    private static string? OriginalMessageId(ReadOnlySpan<byte> header)
    {
        var headers = HeaderList.Parse(header);
        var id = Threading.ParseMessageIds(headers.GetValue("Message-ID")).FirstOrDefault();
        // The id is echoed in our header: only a plausible, printable, bounded one.
        if (id is null || id.Length > 250 || id.Any(c => c <= 0x20 || c > 0x7e || c is '<' or '>')) return null;
        return id;
    }

    private static string MakeBoundary(ReadOnlySpan<byte> original)
    {
        while (true)
        {
            string b = "=_dsn_" + RandomHex(12);
            if (original.IndexOf(Encoding.ASCII.GetBytes(b)) < 0) return b;
        }
    }

    private static string RandomHex(int bytes) => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(bytes));

    private static void Write(Stream s, StringBuilder sb)
    {
        s.Write(Encoding.UTF8.GetBytes(sb.ToString()));
        sb.Clear();
    }

    // Bare LF and bare CR become CRLF so the DSN is valid on the wire (RFC 5322 §2.3).
    private static void WriteCrlfNormalized(Stream s, ReadOnlySpan<byte> data)
    {
        int start = 0;
        for (int i = 0; i < data.Length; i++)
        {
            byte b = data[i];
            if (b == '\r' && i + 1 < data.Length && data[i + 1] == '\n') { i++; continue; }
            if (b is (byte)'\r' or (byte)'\n')
            {
                s.Write(data[start..i]);
                s.Write("\r\n"u8);
                start = i + 1;
            }
        }
        s.Write(data[start..]);
    }

    private static void EnsureFinalCrlf(MemoryStream s)
    {
        var buf = s.GetBuffer();
        long n = s.Length;
        if (n >= 2 && buf[n - 2] == '\r' && buf[n - 1] == '\n') return;
        s.Write("\r\n"u8);
    }

    /// <summary>Whether a line of <paramref name="data"/> (CR, LF or CRLF ended) is longer than 998 octets (RFC 5322 §2.1.1).</summary>
    private static bool HasLongLine(ReadOnlySpan<byte> data)
    {
        while (data.Length > 998)
        {
            int end = data.IndexOfAny((byte)'\r', (byte)'\n');
            if (end < 0 || end > 998) return true;
            data = data[(end + 1)..];
        }
        return false;
    }

    // Quoted-printable (RFC 2045 §6.7) of header lines: line breaks kept as CRLF, soft breaks under 76 characters.
    private static void WriteQuotedPrintable(Stream s, ReadOnlySpan<byte> data)
    {
        var line = new StringBuilder(80);
        for (int i = 0; i < data.Length; i++)
        {
            byte b = data[i];
            if (b is (byte)'\r' or (byte)'\n')
            {
                if (b == '\r' && i + 1 < data.Length && data[i + 1] == '\n') i++;
                s.Write(Encoding.ASCII.GetBytes(line.Append("\r\n").ToString()));
                line.Clear();
                continue;
            }
            string piece = b is >= 33 and <= 126 && b != '=' || b == ' ' && i + 1 < data.Length && data[i + 1] is not ((byte)'\r' or (byte)'\n')
                ? ((char)b).ToString()
                : "=" + b.ToString("X2", CultureInfo.InvariantCulture);
            if (line.Length + piece.Length > 75)
            {
                s.Write(Encoding.ASCII.GetBytes(line.Append("=\r\n").ToString()));
                line.Clear();
            }
            line.Append(piece);
        }
        if (line.Length > 0) s.Write(Encoding.ASCII.GetBytes(line.Append("\r\n").ToString()));
    }
}
