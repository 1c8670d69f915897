using System.Globalization;
using System.Text;

namespace Postern.Security.MtaSts;

// MTA-STS (RFC 8461): the `_mta-sts` TXT record announcing a policy, and the policy file
// itself, served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt. Both parsers are strict
// about what the RFC requires and ignore unknown keys (extensions), as §3.1 and §3.2 say.

/// <summary>The policy mode (RFC 8461 §5).</summary>
public enum MtaStsMode
{
    /// <summary>No policy in force (a domain withdrawing its policy).</summary>
    None,
    /// <summary>Report failures (TLSRPT) but deliver anyway.</summary>
    Testing,
    /// <summary>Deliver only to matching MX hosts over TLS with a valid certificate.</summary>
    Enforce,
}

/// <summary>The <c>_mta-sts.DOMAIN</c> TXT record (RFC 8461 §3.1).</summary>
/// <param name="Id">The policy id: 1 to 32 letters and digits; a new id means a new policy.</param>
public sealed record MtaStsRecord(string Id)
{
    /// <summary>Parses a TXT record's text; null with an error when it is not a valid STSv1 record.</summary>
    public static MtaStsRecord? Parse(string text, out string? error)
    {
        error = null;
        // sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]; version first.
        string[] fields = text.Split(';');
        string? id = null;
        for (int i = 0; i < fields.Length; i++)
        {
            string f = fields[i].Trim(' ', '\t');
            if (f.Length == 0 && i == fields.Length - 1 && i > 0)
                break; // trailing delimiter
            int eq = f.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                error = $"malformed field \"{f}\"";
                return null;
            }
            string key = f[..eq], value = f[(eq + 1)..];
            if (i == 0)
            {
                if (key != "v" || value != "STSv1")
                {
                    error = "record does not start with v=STSv1";
                    return null;
                }
                continue;
            }
            if (key == "id")
            {
                if (id is not null)
                {
                    error = "id given twice";
                    return null;
                }
                if (value.Length is < 1 or > 32 || !value.All(char.IsAsciiLetterOrDigit))
                {
                    error = "id must be 1 to 32 letters and digits";
                    return null;
                }
                id = value;
            }
            // Other fields are extensions and ignored (RFC 8461 §3.1).
        }
        if (id is null)
        {
            error = "no id field";
            return null;
        }
        return new MtaStsRecord(id);
    }
}

/// <summary>An MTA-STS policy (RFC 8461 §3.2).</summary>
/// <param name="Mode">enforce, testing or none.</param>
/// <param name="MaxAge">How long the policy may be cached, at most one year.</param>
/// <param name="Mx">The MX host patterns, exact names or "*.domain" wildcards.</param>
public sealed record MtaStsPolicy(MtaStsMode Mode, TimeSpan MaxAge, IReadOnlyList<string> Mx)
{
    /// <summary>Largest policy file accepted (RFC 8461 §3.3 suggests 64 KiB).</summary>
    public const int MaxSize = 64 * 1024;

    /// <summary>Largest max_age (RFC 8461 §3.2: 31557600 seconds).</summary>
    public const long MaxMaxAgeSeconds = 31_557_600;

    /// <summary>Parses a policy file; null with an error when it is not a valid STSv1 policy.</summary>
    public static MtaStsPolicy? Parse(ReadOnlySpan<byte> body, out string? error)
    {
        error = null;
        if (body.Length > MaxSize)
        {
            error = $"policy larger than {MaxSize} bytes";
            return null;
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(body);
        }
        catch (DecoderFallbackException)
        {
            error = "policy is not valid UTF-8";
            return null;
        }
        string? version = null, mode = null, maxAge = null;
        var mx = new List<string>();
        // Lines end with CRLF or LF (§3.2); "key: value", leading and trailing whitespace allowed around the value.
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0)
                continue;
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                error = $"malformed line \"{Shorten(line)}\"";
                return null;
            }
            string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim(' ', '\t');
            switch (key)
            {
                case "version":
                    if (version is not null) { error = "version given twice"; return null; }
                    version = value;
                    break;
                case "mode":
                    if (mode is not null) { error = "mode given twice"; return null; }
                    mode = value;
                    break;
                case "max_age":
                    if (maxAge is not null) { error = "max_age given twice"; return null; }
                    maxAge = value;
                    break;
                case "mx":
                    if (!IsMxPattern(value)) { error = $"invalid mx pattern \"{Shorten(value)}\""; return null; }
                    mx.Add(value.ToLowerInvariant().TrimEnd('.'));
                    break;
                default:
                    break; // extension keys are ignored
            }
        }
        if (version != "STSv1")
        {
            error = version is null ? "no version field" : $"unsupported version \"{Shorten(version)}\"";
            return null;
        }
        MtaStsMode? m = mode switch
        {
            "enforce" => MtaStsMode.Enforce,
            "testing" => MtaStsMode.Testing,
            "none" => MtaStsMode.None,
            _ => null,
        };
        if (m is null)
        {
            error = mode is null ? "no mode field" : $"unknown mode \"{Shorten(mode)}\"";
            return null;
        }
        // max_age: 1*10DIGIT, at most 31557600.
        if (maxAge is null || maxAge.Length is < 1 or > 10 || !maxAge.All(char.IsAsciiDigit)
            || !long.TryParse(maxAge, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) || seconds > MaxMaxAgeSeconds)
        {
            error = maxAge is null ? "no max_age field" : "max_age must be 0 to 31557600 seconds";
            return null;
        }
        if (m != MtaStsMode.None && mx.Count == 0)
        {
            error = "no mx field";
            return null;
        }
        return new MtaStsPolicy(m.Value, TimeSpan.FromSeconds(seconds), mx);
    }

    /// <summary>True when <paramref name="host"/> is allowed by one of the mx patterns (RFC 8461 §4.1).</summary>
    public bool AllowsMx(string host)
    {
        host = host.TrimEnd('.').ToLowerInvariant();
        foreach (string pattern in Mx)
        {
            if (pattern.StartsWith("*.", StringComparison.Ordinal))
            {
                // A wildcard matches exactly one leftmost label.
                int dot = host.IndexOf('.', StringComparison.Ordinal);
                if (dot > 0 && host[(dot + 1)..] == pattern[2..])
                    return true;
            }
            else if (host == pattern)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The policy as a file body (CRLF lines), as served at the well-known URL.</summary>
    public string Format()
    {
        var sb = new StringBuilder();
        sb.Append("version: STSv1\r\n");
        sb.Append("mode: ").Append(Mode.ToString().ToLowerInvariant()).Append("\r\n");
        foreach (string m in Mx)
            sb.Append("mx: ").Append(m).Append("\r\n");
        sb.Append("max_age: ").Append(((long)MaxAge.TotalSeconds).ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        return sb.ToString();
    }

    private static bool IsMxPattern(string value)
    {
        string host = value.StartsWith("*.", StringComparison.Ordinal) ? value[2..] : value;
        host = host.TrimEnd('.');
        if (host.Length is 0 or > 253)
            return false;
        foreach (string label in host.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
                return false;
            if (!label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                return false;
        }
        return true;
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
