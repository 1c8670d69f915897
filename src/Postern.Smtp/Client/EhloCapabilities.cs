using System.Globalization;

namespace Postern.Smtp.Client;

/// <summary>The service extensions a peer announced in its EHLO reply (RFC 5321 §4.1.1.1).</summary>
public sealed class EhloCapabilities
{
    /// <summary>A peer that answered HELO only: no extensions.</summary>
    public static EhloCapabilities None { get; } = new();

    /// <summary>RFC 2920 PIPELINING.</summary>
    public bool Pipelining { get; private init; }
    /// <summary>RFC 1870 SIZE was announced.</summary>
    public bool Size { get; private init; }
    /// <summary>The SIZE limit in octets; 0 when none was given.</summary>
    public long MaxSize { get; private init; }
    /// <summary>RFC 6152 8BITMIME.</summary>
    public bool EightBitMime { get; private init; }
    /// <summary>RFC 6531 SMTPUTF8.</summary>
    public bool SmtpUtf8 { get; private init; }
    /// <summary>RFC 3030 CHUNKING (BDAT).</summary>
    public bool Chunking { get; private init; }
    /// <summary>RFC 3207 STARTTLS.</summary>
    public bool StartTls { get; private init; }
    /// <summary>RFC 3461 DSN.</summary>
    public bool Dsn { get; private init; }
    /// <summary>RFC 8689 REQUIRETLS.</summary>
    public bool RequireTls { get; private init; }
    /// <summary>RFC 3463 / RFC 2034 ENHANCEDSTATUSCODES.</summary>
    public bool EnhancedStatusCodes { get; private init; }
    /// <summary>RFC 9422 LIMITS RCPTMAX, or 0 when not announced.</summary>
    public int RcptMax { get; private init; }
    /// <summary>RFC 9422 LIMITS MAILMAX, or 0 when not announced.</summary>
    public int MailMax { get; private init; }
    /// <summary>RFC 4954 AUTH mechanisms, upper case.</summary>
    public IReadOnlyList<string> AuthMechanisms { get; private init; } = [];

    /// <summary>Parses the lines of a 250 EHLO reply; the first line is the greeting and is skipped. Unknown keywords are ignored.</summary>
    public static EhloCapabilities Parse(IReadOnlyList<string> lines)
    {
        bool pipelining = false, size = false, eight = false, utf8 = false, chunking = false, starttls = false, dsn = false, requiretls = false, enhanced = false;
        long maxSize = 0;
        int rcptMax = 0, mailMax = 0;
        var auth = new List<string>();
        for (int i = 1; i < lines.Count; i++)
        {
            string[] words = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0) continue;
            switch (words[0].ToUpperInvariant())
            {
                case "PIPELINING": pipelining = true; break;
                case "SIZE":
                    size = true;
                    if (words.Length > 1 && long.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out long n)) maxSize = n;
                    break;
                case "8BITMIME": eight = true; break;
                case "SMTPUTF8": utf8 = true; break;
                case "CHUNKING": chunking = true; break;
                case "STARTTLS": starttls = true; break;
                case "DSN": dsn = true; break;
                case "REQUIRETLS": requiretls = true; break;
                case "ENHANCEDSTATUSCODES": enhanced = true; break;
                case "AUTH":
                    foreach (string m in words.Skip(1))
                    {
                        if (auth.Count < 32) auth.Add(m.ToUpperInvariant());
                    }
                    break;
                case "LIMITS":
                    // RFC 9422 §3: LIMITS name=value pairs.
                    foreach (string pair in words.Skip(1))
                    {
                        int eq = pair.IndexOf('=', StringComparison.Ordinal);
                        if (eq <= 0 || !int.TryParse(pair.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < 1) continue;
                        string name = pair[..eq].ToUpperInvariant();
                        if (name == "RCPTMAX") rcptMax = v;
                        else if (name == "MAILMAX") mailMax = v;
                    }
                    break;
            }
        }
        return new EhloCapabilities
        {
            Pipelining = pipelining, Size = size, MaxSize = maxSize, EightBitMime = eight, SmtpUtf8 = utf8, Chunking = chunking,
            StartTls = starttls, Dsn = dsn, RequireTls = requiretls, EnhancedStatusCodes = enhanced, RcptMax = rcptMax, MailMax = mailMax,
            AuthMechanisms = auth,
        };
    }
}
