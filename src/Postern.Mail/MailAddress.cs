using System.Globalization;
using System.Text;

namespace Postern.Mail;

/// <summary>
/// One mailbox: display name, local part and domain. See docs/addresses.md for the
/// normalisation rules: the local part is kept exactly (case preserved, RFC 5321 §2.4),
/// the domain is kept as written in <see cref="Domain"/> and offered lowercased in A-label
/// and U-label forms (IDNA2008 via <see cref="IdnMapping"/>).
/// </summary>
/// <param name="DisplayName">The display name with RFC 2047 encoded words decoded, or null.</param>
/// <param name="LocalPart">The local part, unquoted (RFC 5322 §3.4.1), UTF-8 allowed (RFC 6531).</param>
/// <param name="Domain">The domain as written (may be a domain literal "[192.0.2.1]"); empty when the address had none.</param>
public sealed record MailAddress(string? DisplayName, string LocalPart, string Domain)
{
    private static readonly IdnMapping Idn = new() { AllowUnassigned = true, UseStd3AsciiRules = false };

    /// <summary>The display name as written, quotes removed but encoded words kept (for IMAP ENVELOPE), or null.</summary>
    public string? RawDisplayName { get; init; }

    /// <summary>Obsolete source route (RFC 5322 §4.4 obs-route), e.g. "@a.example,@b.example", or null.</summary>
    public string? Route { get; init; }

    /// <summary>The addr-spec "local@domain", the local part quoted when it is not a dot-atom (RFC 5322 §3.4.1).</summary>
    public string Address => Domain.Length == 0 ? QuoteLocalPart(LocalPart) : QuoteLocalPart(LocalPart) + "@" + Domain;

    /// <summary>The domain lowercased in ASCII (A-label) form; the input when it is not a valid IDN.</summary>
    public string DomainAscii => ToAsciiDomain(Domain);

    /// <summary>The domain lowercased in Unicode (U-label) form; the input lowercased when it is not a valid IDN.</summary>
    public string DomainUnicode => ToUnicodeDomain(Domain);

    /// <summary>True when the local part needs SMTPUTF8 (RFC 6531).</summary>
    public bool HasUtf8LocalPart => !Ascii.IsValid(LocalPart);

    /// <summary>Formats as a header value: "Name &lt;addr&gt;" with the name encoded when needed (RFC 2047).</summary>
    public override string ToString() =>
        string.IsNullOrEmpty(DisplayName) ? Address : EncodedWords.EncodePhrase(DisplayName) + " <" + Address + ">";

    /// <summary>Lowercased A-label form of a domain (IDNA); domain literals and invalid names are only lowercased.</summary>
    public static string ToAsciiDomain(string domain)
    {
        if (domain.Length == 0 || domain[0] == '[') return domain.ToLowerInvariant();
        try
        {
            return Idn.GetAscii(domain.TrimEnd('.')).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return domain.ToLowerInvariant();
        }
    }

    /// <summary>Lowercased U-label form of a domain (IDNA); invalid names are only lowercased.</summary>
    public static string ToUnicodeDomain(string domain)
    {
        if (domain.Length == 0 || domain[0] == '[') return domain.ToLowerInvariant();
        try
        {
            return Idn.GetUnicode(Idn.GetAscii(domain.TrimEnd('.'))).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return domain.ToLowerInvariant();
        }
    }

    /// <summary>Quotes a local part unless it is a dot-atom (RFC 5322 §3.2.3, §3.4.1; UTF-8 atext per RFC 6532 §3.2).</summary>
    public static string QuoteLocalPart(string local)
    {
        if (IsDotAtom(local)) return local;
        var sb = new StringBuilder(local.Length + 2).Append('"');
        foreach (char c in local)
        {
            if (c is '"' or '\\') sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    internal static bool IsDotAtom(string s)
    {
        if (s.Length == 0 || s[0] == '.' || s[^1] == '.' || s.Contains("..", StringComparison.Ordinal)) return false;
        foreach (char c in s)
            if (c != '.' && !AddressParser.IsAtext(c)) return false;
        return true;
    }

    /// <summary>Parses a single mailbox ("Name &lt;a@b&gt;" or "a@b"); null when none can be found.</summary>
    public static MailAddress? TryParse(string text)
    {
        var list = AddressParser.Parse(text);
        foreach (var item in list)
        {
            if (item.Mailbox is not null) return item.Mailbox;
            if (item.Group is { Members.Count: > 0 } g) return g.Members[0];
        }
        return null;
    }
}

/// <summary>A named group of mailboxes (RFC 5322 §3.4 group); the member list may be empty.</summary>
public sealed record AddressGroup(string Name, IReadOnlyList<MailAddress> Members)
{
    /// <summary>The group name as written, quotes removed but encoded words kept.</summary>
    public string RawName { get; init; } = Name;
}

/// <summary>One entry of an address list: a mailbox or a group.</summary>
public readonly record struct AddressListItem(MailAddress? Mailbox, AddressGroup? Group);
