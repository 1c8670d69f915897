using System.Net;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Postern.Dns;
using Postern.Security.Dkim;
using Postern.Security.Dmarc;
using Postern.Security.Spf;

namespace Postern.Security.Tests.Properties;

/// <summary>
/// FsCheck properties of the record and header parsers: any input gives a value or an error
/// with a reason, never an exception; and evaluations over hostile records end with a result.
/// </summary>
public class ParserPropertyTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(500);

    /// <summary>Strings made mostly of the characters these grammars care about.</summary>
    private static Arbitrary<string> Grammarish(params string[] pieces) =>
        Gen.Elements(pieces).ListOf().Select(l => string.Concat(l)).ToArbitrary();

    private static readonly string[] SpfPieces =
    [
        "v=spf1", " ", "  ", "-", "+", "~", "?", "all", "a", "mx", "ptr", "ip4:", "ip6:", "include:", "exists:", "redirect=", "exp=",
        "1.2.3.4", "::1", "2001:db8::", "/", "//", "24", "0", "129", "example.org", ".", "%{", "}", "%%", "%_", "%-", "d", "i", "l", "r", "2",
        "ir", "s", "x", "=", ":", "é", "\t",
    ];

    [Fact]
    public void Spf_record_parser_never_throws() =>
        Prop.ForAll(Grammarish(SpfPieces), text =>
        {
            bool ok = SpfRecord.TryParse("v=spf1 " + text, out SpfRecord? r, out string? error);
            return ok ? r is not null : !string.IsNullOrEmpty(error);
        }).Check(Runs);

    [Fact]
    public void Spf_evaluation_of_any_record_ends_with_a_result() =>
        Prop.ForAll(Grammarish(SpfPieces), text =>
        {
            var dns = new InMemoryDnsResolver();
            dns.Zone.AddTxt("example.org", "v=spf1 " + text);
            dns.Zone.AddTxt("_x.example.org", "v=spf1 " + text);
            SpfCheckResult r = new SpfVerifier(dns).CheckMailFromAsync(IPAddress.Parse("192.0.2.1"), "h.example", "a@example.org").GetAwaiter().GetResult();
            return Enum.IsDefined(r.Result) && r.DnsLookups <= 11;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(200));

    private static readonly string[] TagPieces =
    [
        "v=1", "v=DKIM1", "v=DMARC1", ";", " ", "\r\n\t", "a=rsa-sha256", "a=ed25519-sha256", "a=rsa-sha1", "a=", "b=", "bh=", "AAAA", "====", "d=example.org",
        "s=sel", "h=from:to", "h=", "i=@example.org", "i=x@other.org", "l=", "l=12", "l=99999999999999999999999", "t=", "t=1", "x=0", "x=999999999999",
        "c=relaxed/simple", "c=bogus", "q=dns/txt", "p=", "p=reject", "p=none", "sp=quarantine", "pct=", "pct=50", "pct=1000", "k=ed25519", "k=rsa",
        "rua=mailto:a@b.c", "=", "é", "\0",
    ];

    [Fact]
    public void Dkim_signature_parser_never_throws() =>
        Prop.ForAll(Grammarish(TagPieces), text =>
            DkimSignatureHeader.TryParse(text, out DkimSignatureHeader? h, out string? e) ? h is not null : !string.IsNullOrEmpty(e)).Check(Runs);

    [Fact]
    public void Dkim_key_parser_never_throws() =>
        Prop.ForAll(Grammarish(TagPieces), text =>
            DkimKeyRecord.TryParse(text, out DkimKeyRecord? k, out string? e) ? k is not null : !string.IsNullOrEmpty(e)).Check(Runs);

    [Fact]
    public void Dmarc_record_parser_never_throws() =>
        Prop.ForAll(Grammarish(TagPieces), text =>
        {
            bool ok = DmarcRecord.TryParse("v=DMARC1;" + text, out DmarcRecord? r, out string? e);
            return ok ? r!.Percent is >= 0 and <= 100 : !string.IsNullOrEmpty(e);
        }).Check(Runs);

    [Fact]
    public void Dkim_verifier_survives_any_signature_field_and_key() =>
        Prop.ForAll(Grammarish(TagPieces), Grammarish(TagPieces), (sig, key) =>
        {
            var dns = new InMemoryDnsResolver();
            dns.Zone.AddTxt("sel._domainkey.example.org", key);
            string msg = "DKIM-Signature: " + sig + "\r\nFrom: a@example.org\r\n\r\nbody\r\n";
            IReadOnlyList<DkimSignatureResult> r = new DkimVerifier(dns).VerifyAsync(Encoding.UTF8.GetBytes(msg)).GetAwaiter().GetResult();
            return r.Count == 1 && (r[0].Result == DkimResult.Pass || r[0].Reason is not null);
        }).Check(Runs);

    [Fact]
    public void Public_suffix_lookup_never_throws() =>
        Prop.ForAll(Grammarish("a", "b", ".", "co", "uk", "com", "*", "!", "-", "xn--", "é", "kawasaki", "jp"), d =>
        {
            if (d.Length == 0) return true;
            string org = PublicSuffixList.Default.OrganizationalDomain(d);
            // For ASCII names the organizational domain is a suffix of the name.
            return d.Any(c => c > 0x7F) || d.TrimEnd('.').ToLowerInvariant().EndsWith(org, StringComparison.Ordinal);
        }).Check(Runs);
}
