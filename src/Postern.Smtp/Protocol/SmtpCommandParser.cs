// Parsing of SMTP command lines (RFC 5321 §4.1.1) and of the MAIL/RCPT parameters of the
// extensions we implement. Parameters are strict: a keyword we do not advertise, a keyword given
// twice, a value where none belongs, or a malformed value is refused with 555 5.5.4 / 501 5.5.4.
using System.Globalization;

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
}

/// <summary>Parsed RCPT TO command.</summary>
public sealed record RcptCommand(SmtpAddress To)
{
    /// <summary>Whether the path carried a source route (ignored, RFC 5321 §C).</summary>
    public bool HadRoute { get; init; }
}

/// <summary>Which MAIL parameters the session offers (they depend on the connection).</summary>
/// <param name="RequireTls">Whether REQUIRETLS is offered (only over TLS).</param>
public readonly record struct MailParameterSupport(bool RequireTls);

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
                default:
                    throw new SmtpCommandException(555, "5.5.4", $"Unsupported parameter {key}");
            }
        }
        if (from is { IsUtf8: true } && !cmd.SmtpUtf8)
            throw new SmtpCommandException(553, "5.6.7", "Non-ASCII address needs SMTPUTF8");
        return cmd;
    }

    /// <summary>Parses the argument of RCPT ("TO:&lt;path&gt; params"). No RCPT parameters are offered (DSN is not implemented).</summary>
    public static RcptCommand ParseRcpt(string argument, bool smtpUtf8)
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
        foreach ((string key, _) in Parameters(argument, pos))
            throw new SmtpCommandException(555, "5.5.4", $"Unsupported parameter {key}");
        return new RcptCommand(to) { HadRoute = route };
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
