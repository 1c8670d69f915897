// Parsing of SMTP command lines (RFC 5321 §4.1.1) and of the MAIL/RCPT parameters of the
// extensions we implement. Parameters are strict: a keyword we do not advertise, a keyword given
// twice, a value where none belongs, or a malformed value is refused with 555 5.5.4 / 501 5.5.4.
using System.Globalization;
using System.Text.RegularExpressions;
using Postern.Mail.Dsn;

namespace Postern.Smtp.Protocol;

/// <summary>A command line split into upper-cased verb and the rest (without the separating space).</summary>
/// <param name="Verb">Upper-cased verb, e.g. "EHLO".</param>
/// <param name="Argument">Everything after the verb and one space; empty when none.</param>
public readonly record struct SmtpCommandLine(string Verb, string Argument)
{
    /// <summary>Splits a command line (CRLF already removed).</summary>
    public static SmtpCommandLine Split(string line)
    {
        int sp = line.IndexOf(' ', StringComparison.Ordinal);
        return sp < 0 ? new(line.ToUpperInvariant(), "") : new(line[..sp].ToUpperInvariant(), line[(sp + 1)..]);
    }
}

/// <summary>The BODY parameter of MAIL (RFC 6152, RFC 3030).</summary>
public enum BodyType
{
    /// <summary>7-bit (default).</summary>
    SevenBit,
    /// <summary>8BITMIME (RFC 6152).</summary>
    EightBitMime,
    /// <summary>BINARYMIME (RFC 3030); only with BDAT.</summary>
    BinaryMime,
}

/// <summary>Parsed MAIL FROM command.</summary>
public sealed record MailCommand(SmtpAddress? From)
{
    /// <summary>Declared SIZE (RFC 1870), or null.</summary>
    public long? Size { get; init; }
    /// <summary>BODY parameter.</summary>
    public BodyType Body { get; init; }
    /// <summary>SMTPUTF8 (RFC 6531 §3.4).</summary>
    public bool SmtpUtf8 { get; init; }
    /// <summary>REQUIRETLS (RFC 8689 §4).</summary>
    public bool RequireTls { get; init; }
    /// <summary>AUTH= parameter (RFC 4954 §5), decoded; "&lt;&gt;" when given as such.</summary>
    public string? AuthParameter { get; init; }
    /// <summary>Whether the path carried a source route (ignored).</summary>
    public bool HadRoute { get; init; }
    /// <summary>RET (RFC 3461 §4.3): what a failure DSN returns; null when not given.</summary>
    public DsnReturn? Return { get; init; }
    /// <summary>ENVID (RFC 3461 §4.4) as sent (xtext), or null.</summary>
    public string? EnvelopeId { get; init; }
    /// <summary>ENVID with its xtext decoded, or null.</summary>
    public string? EnvelopeIdDecoded { get; init; }
    /// <summary>HOLDFOR (RFC 4865 §3): seconds to hold the message, or null.</summary>
    public long? HoldFor { get; init; }
    /// <summary>HOLDUNTIL (RFC 4865 §3): hold the message until this time, or null.</summary>
    public DateTimeOffset? HoldUntil { get; init; }
}

/// <summary>Parsed RCPT TO command.</summary>
public sealed record RcptCommand(SmtpAddress To)
{
    /// <summary>Whether the path carried a source route (ignored, RFC 5321 §C).</summary>
    public bool HadRoute { get; init; }
    /// <summary>NOTIFY (RFC 3461 §4.1) normalised to upper case ("NEVER", or e.g. "SUCCESS,FAILURE"), or null.</summary>
    public string? Notify { get; init; }
    /// <summary>ORCPT (RFC 3461 §4.2) as sent, or null.</summary>
    public string? OriginalRecipientParameter { get; init; }
    /// <summary>ORCPT decoded, or null.</summary>
    public DsnAddress? OriginalRecipient { get; init; }

    /// <summary>Whether a DSN of this kind was asked for: NOTIFY lists it (SUCCESS, FAILURE, DELAY).</summary>
    public bool NotifyOn(string kind) => Notify is not null && Notify.Split(',').Contains(kind, StringComparer.Ordinal);
}

/// <summary>Which MAIL parameters the session offers (they depend on the connection).</summary>
/// <param name="RequireTls">Whether REQUIRETLS is offered (only over TLS).</param>
/// <param name="FutureRelease">Whether FUTURERELEASE (HOLDFOR, HOLDUNTIL) is offered (submission with an outgoing queue).</param>
/// <param name="Dsn">Whether DSN (RET, ENVID) is offered.</param>
public readonly record struct MailParameterSupport(bool RequireTls, bool FutureRelease = false, bool Dsn = true);

/// <summary>A command refused with a specific reply.</summary>
/// <param name="Code">Basic reply code.</param>
/// <param name="Enhanced">Enhanced status code (RFC 3463).</param>
/// <param name="Text">Human text.</param>
public sealed class SmtpCommandException(int code, string enhanced, string text) : Exception(text)
{
    /// <summary>Basic reply code.</summary>
    public int Code { get; } = code;
    /// <summary>Enhanced status code.</summary>
    public string Enhanced { get; } = enhanced;
}

/// <summary>Parser of MAIL and RCPT arguments.</summary>
public static class SmtpCommandParser
{
    /// <summary>Parses the argument of MAIL ("FROM:&lt;path&gt; params").</summary>
    public static MailCommand ParseMail(string argument, MailParameterSupport support)
    {
        int pos = ExpectPrefix(argument, "FROM:");
        // The parameters decide whether the path may hold UTF-8, so look at them first.
        bool utf8 = argument.Contains(" SMTPUTF8", StringComparison.OrdinalIgnoreCase);
        SmtpAddress? from;
        bool route;
        try
        {
            from = SmtpPath.Parse(argument, ref pos, allowNull: true, utf8, out route);
        }
        catch (SmtpSyntaxException e)
        {
            throw new SmtpCommandException(501, "5.1.7", "Bad sender address syntax: " + e.Message);
        }
        var cmd = new MailCommand(from) { HadRoute = route };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string key, string? value) in Parameters(argument, pos))
        {
            if (!seen.Add(key))
                throw new SmtpCommandException(501, "5.5.4", $"Parameter {key} given twice");
            switch (key)
            {
                case "SIZE":
                    // RFC 1870 §3: size-value ::= 1*20DIGIT
                    if (value is null || value.Length > 20 || !value.All(char.IsAsciiDigit))
                        throw new SmtpCommandException(501, "5.5.4", "Invalid SIZE value");
                    cmd = cmd with { Size = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : long.MaxValue };
                    break;
                case "BODY":
                    cmd = cmd with
                    {
                        Body = value?.ToUpperInvariant() switch
                        {
                            "7BIT" => BodyType.SevenBit,
                            "8BITMIME" => BodyType.EightBitMime,
                            "BINARYMIME" => BodyType.BinaryMime,
                            _ => throw new SmtpCommandException(501, "5.5.4", "Invalid BODY value"),
                        },
                    };
                    break;
                case "SMTPUTF8":
                    if (value is not null)
                        throw new SmtpCommandException(501, "5.5.4", "SMTPUTF8 takes no value");
                    cmd = cmd with { SmtpUtf8 = true };
                    break;
                case "REQUIRETLS" when support.RequireTls:
                    if (value is not null)
                        throw new SmtpCommandException(501, "5.5.4", "REQUIRETLS takes no value");
                    cmd = cmd with { RequireTls = true };
                    break;
                case "REQUIRETLS":
                    // RFC 8689 §4.1: the option only exists on a TLS connection, where it is advertised.
                    throw new SmtpCommandException(555, "5.7.10", "REQUIRETLS needs a TLS connection");
                case "AUTH":
                    // RFC 4954 §5: AUTH=xtext or AUTH=<>.
                    if (value is null)
                        throw new SmtpCommandException(501, "5.5.4", "AUTH needs a value");
                    cmd = cmd with { AuthParameter = value == "<>" ? "<>" : Xtext.Decode(value) ?? throw new SmtpCommandException(501, "5.5.4", "Invalid xtext in AUTH") };
                    break;
                case "RET" when support.Dsn:
                    // RFC 3461 §4.3: RET=FULL or RET=HDRS.
                    cmd = cmd with
                    {
                        Return = value?.ToUpperInvariant() switch
                        {
                            "FULL" => DsnReturn.Full,
                            "HDRS" => DsnReturn.Headers,
                            _ => throw new SmtpCommandException(501, "5.5.4", "Invalid RET value (FULL or HDRS)"),
                        },
                    };
                    break;
                case "ENVID" when support.Dsn:
                    // RFC 3461 §4.4: xtext, at most 100 characters.
                    if (value is null || value.Length > 100)
                        throw new SmtpCommandException(501, "5.5.4", "Invalid ENVID (xtext of at most 100 characters)");
                    cmd = cmd with { EnvelopeId = value, EnvelopeIdDecoded = DsnAddress.DecodeXtext(value) ?? throw new SmtpCommandException(501, "5.5.4", "Invalid xtext in ENVID") };
                    break;
                case "HOLDFOR" when support.FutureRelease:
                    // RFC 4865 §3: future-release-integer = 1*9DIGIT; only one of HOLDFOR and HOLDUNTIL.
                    if (cmd.HoldUntil is not null)
                        throw new SmtpCommandException(501, "5.5.4", "HOLDFOR and HOLDUNTIL cannot both be given");
                    if (value is null || value.Length is 0 or > 9 || !value.All(char.IsAsciiDigit))
                        throw new SmtpCommandException(501, "5.5.4", "Invalid HOLDFOR value (seconds)");
                    cmd = cmd with { HoldFor = long.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture) };
                    break;
                case "HOLDUNTIL" when support.FutureRelease:
                    if (cmd.HoldFor is not null)
                        throw new SmtpCommandException(501, "5.5.4", "HOLDFOR and HOLDUNTIL cannot both be given");
                    cmd = cmd with { HoldUntil = ParseRfc3339(value) ?? throw new SmtpCommandException(501, "5.5.4", "Invalid HOLDUNTIL value (RFC 3339 date-time)") };
                    break;
                default:
                    throw new SmtpCommandException(555, "5.5.4", $"Unsupported parameter {key}");
            }
        }
        if (from is { IsUtf8: true } && !cmd.SmtpUtf8)
            throw new SmtpCommandException(553, "5.6.7", "Non-ASCII address needs SMTPUTF8");
        return cmd;
    }

    /// <summary>Parses the argument of RCPT ("TO:&lt;path&gt; params"): NOTIFY and ORCPT (RFC 3461).</summary>
    public static RcptCommand ParseRcpt(string argument, bool smtpUtf8, bool dsn = true)
    {
        int pos = ExpectPrefix(argument, "TO:");
        SmtpAddress to;
        bool route;
        try
        {
            to = SmtpPath.Parse(argument, ref pos, allowNull: false, smtpUtf8, out route)!;
        }
        catch (SmtpSyntaxException e)
        {
            throw new SmtpCommandException(501, "5.1.3", "Bad recipient address syntax: " + e.Message);
        }
        var cmd = new RcptCommand(to) { HadRoute = route };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string key, string? value) in Parameters(argument, pos))
        {
            if (!seen.Add(key))
                throw new SmtpCommandException(501, "5.5.4", $"Parameter {key} given twice");
            switch (key)
            {
                case "NOTIFY" when dsn:
                    cmd = cmd with { Notify = ParseNotify(value) };
                    break;
                case "ORCPT" when dsn:
                    // RFC 3461 §4.2 addr-type ";" xtext; RFC 6533 §3 for the utf-8 type.
                    cmd = cmd with
                    {
                        OriginalRecipientParameter = value,
                        OriginalRecipient = (value is null ? null : DsnAddress.ParseOrcpt(value, smtpUtf8))
                            ?? throw new SmtpCommandException(501, "5.5.4", "Invalid ORCPT value (addr-type;xtext)"),
                    };
                    break;
                default:
                    throw new SmtpCommandException(555, "5.5.4", $"Unsupported parameter {key}");
            }
        }
        return cmd;
    }

    // RFC 3461 §4.1: "NEVER" alone, or a comma-separated list of SUCCESS, FAILURE, DELAY (each once).
    private static string ParseNotify(string? value)
    {
        if (value is null)
            throw new SmtpCommandException(501, "5.5.4", "NOTIFY needs a value");
        string[] items = value.ToUpperInvariant().Split(',');
        if (items.Length == 1 && items[0] == "NEVER")
            return "NEVER";
        var kinds = new HashSet<string>(StringComparer.Ordinal);
        foreach (string item in items)
        {
            if (item is not ("SUCCESS" or "FAILURE" or "DELAY") || !kinds.Add(item))
                throw new SmtpCommandException(501, "5.5.4", "Invalid NOTIFY value (NEVER, or SUCCESS, FAILURE, DELAY)");
        }
        return string.Join(',', items);
    }

    // RFC 3339 §5.6 date-time (RFC 4865 erratum 2040): full-date "T" full-time, offset "Z" or +hh:mm.
    private static readonly Regex Rfc3339 = new(@"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$", RegexOptions.CultureInvariant);

    /// <summary>Parses an RFC 3339 date-time; null when malformed.</summary>
    public static DateTimeOffset? ParseRfc3339(string? value)
    {
        if (value is null || value.Length > 40 || !Rfc3339.IsMatch(value))
            return null;
        // .NET has no leap second; 60 is read as 59 (RFC 3339 §5.7 allows it).
        string v = value.Length > 18 && value[17] == '6' && value[18] == '0' ? value[..17] + "59" + value[19..] : value;
        return DateTimeOffset.TryParse(v.ToUpperInvariant(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset d) ? d : null;
    }

    private static int ExpectPrefix(string argument, string prefix)
    {
        if (!argument.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            throw new SmtpCommandException(501, "5.5.4", $"Syntax: {prefix}<address>");
        int pos = prefix.Length;
        // RFC 5321 has no space after the colon; many clients send one, so one or more are skipped.
        while (pos < argument.Length && argument[pos] == ' ')
            pos++;
        return pos;
    }

    /// <summary>esmtp-param *(SP esmtp-param) after the path (RFC 5321 §4.1.2).</summary>
    private static IEnumerable<(string Key, string? Value)> Parameters(string s, int pos)
    {
        if (pos == s.Length)
            yield break;
        if (s[pos] != ' ')
            throw new SmtpCommandException(501, "5.5.4", "Expected a space after the address");
        foreach (string p in s[(pos + 1)..].Split(' '))
        {
            // A double space or a trailing space gives an empty parameter: refused (strict grammar).
            if (p.Length == 0)
                throw new SmtpCommandException(501, "5.5.4", "Empty parameter");
            int eq = p.IndexOf('=', StringComparison.Ordinal);
            string key = (eq < 0 ? p : p[..eq]).ToUpperInvariant();
            string? value = eq < 0 ? null : p[(eq + 1)..];
            // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
            if (key.Length == 0 || !char.IsAsciiLetterOrDigit(key[0]) || !key.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                throw new SmtpCommandException(501, "5.5.4", "Invalid parameter keyword");
            // esmtp-value = 1*(%d33-60 / %d62-126) (RFC 6531 adds UTF-8)
            if (value is not null && (value.Length == 0 || value.Any(c => c < 33 || c == '=' || c == 127)))
                throw new SmtpCommandException(501, "5.5.4", $"Invalid value for {key}");
            yield return (key, value);
        }
    }
}
