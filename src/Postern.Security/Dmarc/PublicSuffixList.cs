// The Public Suffix List (https://publicsuffix.org/list/) and the organizational domain of
// RFC 7489 §3.2: the public suffix of a name plus one label. Rules are matched label by
// label from the right; "*" matches any one label; "!" rules are exceptions; with no rule
// matching, the implicit rule "*" applies (the last label is the public suffix).
using System.Globalization;

namespace Postern.Security.Dmarc;

/// <summary>The Public Suffix List, loaded from Debian's file or the copy embedded in this assembly.</summary>
public sealed class PublicSuffixList
{
    /// <summary>Where Debian's publicsuffix package installs the list.</summary>
    public const string SystemPath = "/usr/share/publicsuffix/public_suffix_list.dat";

    private static readonly Lazy<PublicSuffixList> DefaultList = new(LoadDefault);
    private readonly HashSet<string> _rules = new(StringComparer.Ordinal);
    private readonly HashSet<string> _wildcards = new(StringComparer.Ordinal);
    private readonly HashSet<string> _exceptions = new(StringComparer.Ordinal);

    /// <summary>The system list when installed, otherwise the embedded copy.</summary>
    public static PublicSuffixList Default => DefaultList.Value;

    /// <summary>Where <see cref="Default"/> was read from ("embedded" for the built-in copy).</summary>
    public string Source { get; private init; } = "";

    /// <summary>Number of rules.</summary>
    public int Count => _rules.Count + _wildcards.Count + _exceptions.Count;

    /// <summary>Parses the list's text format.</summary>
    public static PublicSuffixList Parse(TextReader reader, string source = "")
    {
        ArgumentNullException.ThrowIfNull(reader);
        var list = new PublicSuffixList { Source = source };
        var idn = new IdnMapping();
        while (reader.ReadLine() is { } line)
        {
            // A rule is the first white-space-delimited word of a line; comments start with "//".
            string rule = line.Trim();
            int space = rule.IndexOfAny([' ', '\t']);
            if (space >= 0) rule = rule[..space];
            if (rule.Length == 0 || rule.StartsWith("//", StringComparison.Ordinal)) continue;
            bool exception = rule.StartsWith('!');
            if (exception) rule = rule[1..];
            bool wildcard = rule.StartsWith("*.", StringComparison.Ordinal);
            if (wildcard) rule = rule[2..];
            try
            {
                rule = idn.GetAscii(rule).ToLowerInvariant();
            }
            catch (ArgumentException)
            {
                continue;
            }
            (exception ? list._exceptions : wildcard ? list._wildcards : list._rules).Add(rule);
        }
        return list;
    }

    private static PublicSuffixList LoadDefault()
    {
        if (File.Exists(SystemPath))
        {
            try
            {
                using var r = new StreamReader(SystemPath);
                return Parse(r, SystemPath);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        using Stream s = typeof(PublicSuffixList).Assembly.GetManifestResourceStream("Postern.Security.public_suffix_list.dat")
            ?? throw new InvalidOperationException("embedded public suffix list missing");
        using var reader = new StreamReader(s);
        return Parse(reader, "embedded");
    }

    /// <summary>The public suffix of a name (lower-case A-labels, no trailing dot).</summary>
    public string PublicSuffix(string domain)
    {
        string[] labels = Normalize(domain).Split('.');
        int suffixLabels = 1; // implicit "*" rule
        for (int n = 1; n <= labels.Length; n++)
        {
            string candidate = string.Join('.', labels[^n..]);
            if (_exceptions.Contains(candidate)) { suffixLabels = n - 1; break; }
            if (_rules.Contains(candidate)) suffixLabels = Math.Max(suffixLabels, n);
            if (n < labels.Length && _wildcards.Contains(candidate)) suffixLabels = Math.Max(suffixLabels, n + 1);
        }
        return string.Join('.', labels[^Math.Min(suffixLabels, labels.Length)..]);
    }

    /// <summary>
    /// The organizational domain (RFC 7489 §3.2): the public suffix and one more label; the name
    /// itself when it is a public suffix or has no more labels.
    /// </summary>
    public string OrganizationalDomain(string domain)
    {
        string d = Normalize(domain);
        string suffix = PublicSuffix(d);
        if (suffix.Length >= d.Length) return d;
        string rest = d[..(d.Length - suffix.Length - 1)];
        int dot = rest.LastIndexOf('.');
        return (dot < 0 ? rest : rest[(dot + 1)..]) + "." + suffix;
    }

    private static string Normalize(string domain)
    {
        ArgumentNullException.ThrowIfNull(domain);
        string d = domain.TrimEnd('.').ToLowerInvariant();
        if (d.Any(c => c > 0x7F))
        {
            try { d = new IdnMapping().GetAscii(d); }
            catch (ArgumentException) { }
        }
        return d;
    }
}
