using System.Globalization;
using System.Text;

namespace Postern.Mail.Dsn;

/// <summary>The action a DSN reports for one recipient (RFC 3464 §2.3.3).</summary>
public enum DsnAction
{
    /// <summary>The message could not be delivered and will not be retried.</summary>
    Failed,
    /// <summary>Delivery has been delayed; the reporting MTA keeps trying.</summary>
    Delayed,
    /// <summary>The message was delivered to the recipient's mailbox.</summary>
    Delivered,
    /// <summary>The message was passed on to an environment that does not return DSNs.</summary>
    Relayed,
    /// <summary>The recipient was an alias or list; the message went to its members.</summary>
    Expanded,
}

/// <summary>What of the original message a DSN returns: the RET parameter (RFC 3461 §4.3).</summary>
public enum DsnReturn
{
    /// <summary>RET=FULL: the whole message.</summary>
    Full,
    /// <summary>RET=HDRS: only its header.</summary>
    Headers,
}

/// <summary>
/// An address with its type, as in DSN fields and the ORCPT parameter (RFC 3464 §2.3.1:
/// <c>address-type ";" generic-address</c>): <c>rfc822;user@example.com</c>, or
/// <c>utf-8;</c> for internationalized addresses (RFC 6533 §3).
/// </summary>
/// <param name="Type">The address type, lowercased (<c>rfc822</c>, <c>utf-8</c>, or another registered type).</param>
/// <param name="Address">The address, decoded (no xtext, no <c>\x{HHHH}</c> escapes).</param>
public sealed record DsnAddress(string Type, string Address)
{
    /// <summary>Longest ORCPT/address value accepted: RFC 3461 §4.2 limits ORCPT to 500 characters.</summary>
    public const int MaxLength = 500;

    /// <summary>An SMTP address: <c>utf-8</c> type when it is not ASCII (RFC 6533 §3), else <c>rfc822</c>.</summary>
    public static DsnAddress ForMailbox(string address) =>
        new(Ascii.IsValid(address) ? "rfc822" : "utf-8", address);

    /// <summary>True when writing the address needs UTF-8 (the RFC 6533 global forms).</summary>
    public bool NeedsUtf8 => !Ascii.IsValid(Address) || !Ascii.IsValid(Type);

    /// <summary>"type;address" with the address as written in a UTF-8 (global) status part.</summary>
    public override string ToString() => Type + ";" + Address;

    /// <summary>
    /// "type;address" for an ASCII-only message/delivery-status part: a <c>utf-8</c> address has
    /// its non-ASCII characters as <c>\x{HHHH}</c> (RFC 6533 §3 utf-8-addr-xtext form, without xtext escapes).
    /// </summary>
    public string ToAsciiForm() => Type + ";" + (Type == "utf-8" ? EncodeEmbeddedUnicode(Address) : Address);

    /// <summary>
    /// The ORCPT parameter value for SMTP (RFC 3461 §4.2): <c>rfc822;</c> + xtext, or for a
    /// <c>utf-8</c> address <c>utf-8;</c> + utf-8-addr-xtext (RFC 6533 §3), ASCII-only in both cases.
    /// </summary>
    public string ToOrcpt()
    {
        if (Type == "utf-8") return "utf-8;" + EncodeEmbeddedUnicode(Address, escapeXtextSpecials: true);
        return Type + ";" + EncodeXtext(Address);
    }

    /// <summary>
    /// Parses an ORCPT parameter value (RFC 3461 §4.2 <c>addr-type ";" xtext</c>; for the
    /// <c>utf-8</c> type RFC 6533 §3 utf-8-addr-xtext or, with SMTPUTF8, utf-8-addr-unitext).
    /// Returns null when it is malformed or longer than <see cref="MaxLength"/>.
    /// </summary>
    public static DsnAddress? ParseOrcpt(string value, bool allowUtf8)
    {
        if (value.Length == 0 || value.Length > MaxLength) return null;
        int semi = value.IndexOf(';', StringComparison.Ordinal);
        if (semi <= 0 || semi == value.Length - 1) return null;
        string type = value[..semi];
        // addr-type is an atom (RFC 3461 §4.2 refers to RFC 822 atom).
        foreach (char c in type)
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_')) return null;
        type = type.ToLowerInvariant();
        string raw = value[(semi + 1)..];
        string? address;
        if (type == "utf-8")
        {
            // RFC 6533 §3: QCHAR excludes "+", "=" and "\"; UTF-8 only in the unitext form (SMTPUTF8).
            foreach (char c in raw)
            {
                if (c is '+' or '=') return null;
                if (c > 0x7e && !allowUtf8) return null;
                if (c < 0x21 || c == 0x7f) return null;
            }
            address = DecodeEmbeddedUnicode(raw);
        }
        else
        {
            address = DecodeXtext(raw);
        }
        return address is null || address.Length == 0 ? null : new DsnAddress(type, address);
    }

    /// <summary>Parses a DSN field value <c>type;address</c> leniently (surrounding space, comments are kept as text); null when there is no ';'.</summary>
    public static DsnAddress? ParseField(string value)
    {
        int semi = value.IndexOf(';', StringComparison.Ordinal);
        if (semi <= 0) return null;
        string type = value[..semi].Trim().ToLowerInvariant();
        string address = value[(semi + 1)..].Trim();
        if (type.Length == 0 || address.Length == 0) return null;
        if (type == "utf-8") address = DecodeEmbeddedUnicode(address) ?? address;
        return new DsnAddress(type, address);
    }

    /// <summary>xtext (RFC 3461 §4): "+XX" with upper-case hex for octets outside "!".."~", "+" and "=".</summary>
    public static string EncodeXtext(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(s))
        {
            if (b is >= (byte)'!' and <= (byte)'~' && b != '+' && b != '=') sb.Append((char)b);
            else sb.Append('+').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>Decodes xtext (RFC 3461 §4); null when it has a bad character or escape. Octets are read as UTF-8.</summary>
    public static string? DecodeXtext(string s)
    {
        var bytes = new List<byte>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '+')
            {
                // RFC 3461 §4: hexchar is "+" and two upper-case hex digits.
                if (i + 2 >= s.Length || !IsUpperHex(s[i + 1]) || !IsUpperHex(s[i + 2])) return null;
                bytes.Add((byte)(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
                i += 2;
            }
            else if (c is >= '!' and <= '~' && c != '=') bytes.Add((byte)c);
            else return null;
        }
        return Charsets.DecodeUtf8OrLatin(bytes.ToArray());
    }

    /// <summary>
    /// Writes non-ASCII characters as <c>\x{HHHH}</c> (RFC 6533 §3 EmbeddedUnicodeChar); with
    /// <paramref name="escapeXtextSpecials"/> also "\", "+", "=", space and controls (utf-8-addr-xtext).
    /// </summary>
    public static string EncodeEmbeddedUnicode(string s, bool escapeXtextSpecials = false)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            int cp = char.IsSurrogatePair(s, i) ? char.ConvertToUtf32(s[i], s[++i]) : s[i];
            bool escape = cp > 0x7e || (escapeXtextSpecials && (cp is '\\' or '+' or '=' || cp <= 0x20 || cp == 0x7f));
            if (escape) sb.Append("\\x{").Append(cp.ToString("X", CultureInfo.InvariantCulture)).Append('}');
            else sb.Append((char)cp);
        }
        return sb.ToString();
    }

    /// <summary>Replaces <c>\x{HHHH}</c> escapes (RFC 6533 §3) by their characters; null when an escape is malformed.</summary>
    public static string? DecodeEmbeddedUnicode(string s)
    {
        if (!s.Contains("\\x{", StringComparison.Ordinal)) return s;
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 2 < s.Length && s[i + 1] == 'x' && s[i + 2] == '{')
            {
                int close = s.IndexOf('}', i + 3);
                // HEXPOINT: 2 to 6 hex digits naming a Unicode scalar value.
                if (close < 0 || close - (i + 3) is < 2 or > 6) return null;
                var hex = s.AsSpan(i + 3, close - (i + 3));
                if (!int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int cp)) return null;
                // A scalar value, and no control character (an address has none).
                if (cp > 0x10FFFF || cp is >= 0xD800 and <= 0xDFFF || cp < 0x20 || cp == 0x7f) return null;
                sb.Append(char.ConvertFromUtf32(cp));
                i = close;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    private static bool IsUpperHex(char c) => c is (>= '0' and <= '9') or (>= 'A' and <= 'F');

    private static int HexValue(char c) => c <= '9' ? c - '0' : c - 'A' + 10;
}

/// <summary>The status of one recipient in a DSN (RFC 3464 §2.3), as the builder writes it.</summary>
/// <param name="FinalRecipient">The recipient the reporting MTA handled (Final-Recipient).</param>
/// <param name="Action">What happened (Action).</param>
/// <param name="Status">The RFC 3463 status code, e.g. <c>5.1.1</c> (Status).</param>
public sealed record DsnRecipient(DsnAddress FinalRecipient, DsnAction Action, string Status)
{
    /// <summary>The recipient as the sender gave it in ORCPT (Original-Recipient, RFC 3464 §2.3.1), or null.</summary>
    public DsnAddress? OriginalRecipient { get; init; }

    /// <summary>The host name of the remote MTA that gave the <see cref="DiagnosticCode"/> (Remote-MTA, type dns), or null.</summary>
    public string? RemoteMta { get; init; }

    /// <summary>The type of <see cref="DiagnosticCode"/>: <c>smtp</c> (RFC 3464 §2.3.6) unless set.</summary>
    public string DiagnosticType { get; init; } = "smtp";

    /// <summary>The diagnostic, e.g. the remote SMTP reply <c>550 5.1.1 No such user</c> (several reply lines may be joined by spaces), or null.</summary>
    public string? DiagnosticCode { get; init; }

    /// <summary>When the last delivery attempt was made (Last-Attempt-Date), or null.</summary>
    public DateTimeOffset? LastAttemptDate { get; init; }

    /// <summary>For <see cref="DsnAction.Delayed"/>: until when attempts continue (Will-Retry-Until), or null.</summary>
    public DateTimeOffset? WillRetryUntil { get; init; }
}

/// <summary>The input of <see cref="DsnBuilder.Build"/>: one DSN for one envelope sender.</summary>
public sealed record DsnReport
{
    /// <summary>Host name of the MTA writing the report (Reporting-MTA: dns;host, and the From domain).</summary>
    public required string ReportingMta { get; init; }

    /// <summary>The address the DSN goes to: the original envelope sender. Never the null path.</summary>
    public required string To { get; init; }

    /// <summary>The header From address; <c>MAILER-DAEMON@</c><see cref="ReportingMta"/> when null.</summary>
    public string? From { get; init; }

    /// <summary>The ENVID the sender gave (RFC 3461 §4.4), decoded, or null (Original-Envelope-Id).</summary>
    public string? EnvelopeId { get; init; }

    /// <summary>When the original message arrived (Arrival-Date), or null.</summary>
    public DateTimeOffset? ArrivalDate { get; init; }

    /// <summary>The recipients reported on; at least one.</summary>
    public required IReadOnlyList<DsnRecipient> Recipients { get; init; }

    /// <summary>The original message (CRLF lines); empty when nothing is to be returned.</summary>
    public ReadOnlyMemory<byte> OriginalMessage { get; init; }

    /// <summary>The sender's RET (RFC 3461 §4.3), or null: see <see cref="DsnBuilder"/> for the default.</summary>
    public DsnReturn? Return { get; init; }

    /// <summary>The original message was sent with SMTPUTF8: use the RFC 6533 global forms.</summary>
    public bool Utf8 { get; init; }

    /// <summary>The Date of the DSN; now when null.</summary>
    public DateTimeOffset? Date { get; init; }

    /// <summary>The Message-ID of the DSN without angle brackets; generated when null.</summary>
    public string? MessageId { get; init; }

    /// <summary>
    /// Largest original message returned in full; a larger one is returned as headers only
    /// (the note in the text part says so). 512 KiB by default.
    /// </summary>
    public int MaxFullReturnBytes { get; init; } = 512 * 1024;
}
