using Postern.Dns;
using Postern.Security.Dkim;
using Postern.Setup;

namespace Postern.Tests;

/// <summary><see cref="DnsCheck"/> on an in-memory zone: the cases the lab test does not set up.</summary>
public class DnsCheckTests
{
    private static DnsRecordInputs Inputs(string dkimRecord) => new(
        "example.org", "mail.example.org", [], ["aa11"], "dmarc-reports@example.org", "tls-reports@example.org", SmtpMx: true,
        DnsRecordSet.ClientServicesOf(465, 993, null, null), [("sel", dkimRecord)], Caa: null, WebServices: false);

    [Fact]
    public async Task Mx_elsewhere_a_dkim_record_of_another_key_and_a_certificate_off_the_host_key_are_problems()
    {
        using var key = DkimPrivateKey.GenerateEd25519();
        using var other = DkimPrivateKey.GenerateEd25519();
        var zone = new DnsZone()
            .AddAddress("mail.example.org", "192.0.2.1")
            .AddMx("example.org", 10, "mx.provider.example")
            .AddMx("example.org", 20, "mail.example.org")
            .AddTxt("sel._domainkey.example.org", other.DnsRecordText());
        var resolver = new InMemoryDnsResolver(zone);
        var report = await DnsCheck.RunAsync(resolver, Inputs(key.DnsRecordText()), [("/etc/certbot/leaf.pem", "bb22")], CancellationToken.None);
        var text = string.Join("\n", report.Problems.Select(p => $"{p.Name}: {p.Problem} | {p.Fix}"));
        Assert.Contains("example.org.: MX also points to mx.provider.example", text, StringComparison.Ordinal);
        Assert.Contains("sel._domainkey.example.org.: DKIM record does not match the key file", text, StringComparison.Ordinal);
        Assert.Contains("the certificate /etc/certbot/leaf.pem is not for a host key", text, StringComparison.Ordinal);
        Assert.Contains("example.org.: no v=spf1 record | publish example.org. IN TXT \"v=spf1 mx ~all\"", text, StringComparison.Ordinal);
        Assert.Contains("_submission._tcp.example.org.: missing (clients may guess and try the service) | publish _submission._tcp.example.org. IN SRV 0 0 0 .", text, StringComparison.Ordinal);
        Assert.Contains(report.Notes, n => n.Contains("DANE", StringComparison.Ordinal));

        // Only another host: every mail for the domain goes there.
        zone.Remove("example.org", DnsRecordType.MX);
        zone.AddMx("example.org", 10, "mx.provider.example");
        report = await DnsCheck.RunAsync(resolver, Inputs(key.DnsRecordText()), [], CancellationToken.None);
        Assert.Contains(report.Problems, p => p.Problem == "MX points to mx.provider.example, not to mail.example.org: mail for the domain goes elsewhere");
    }

    [Fact]
    public async Task A_failing_lookup_is_a_problem_never_a_pass()
    {
        using var key = DkimPrivateKey.GenerateEd25519();
        var resolver = new InMemoryDnsResolver(new DnsZone());
        resolver.SetFailure("example.org", DnsOutcome.ServFail);
        var report = await DnsCheck.RunAsync(resolver, Inputs(key.DnsRecordText()), [], CancellationToken.None);
        Assert.Contains(report.Problems, p => p.Name == "example.org." && p.Problem.StartsWith("lookup failed", StringComparison.Ordinal));
    }
    [Fact]
    public async Task The_served_mta_sts_policy_must_be_the_configured_one()
    {
        using var key = DkimPrivateKey.GenerateEd25519();
        var policy = new Postern.Security.MtaSts.MtaStsPolicy(Postern.Security.MtaSts.MtaStsMode.Enforce, TimeSpan.FromDays(7), ["mail.example.org"]);
        var inputs = Inputs(key.DnsRecordText()) with { WebServices = true, MtaSts = policy };
        var zone = new DnsZone().AddAddress("mail.example.org", "192.0.2.1").AddMx("example.org", 10, "mail.example.org")
            .AddTxt("_mta-sts.example.org", Postern.Web.MtaStsPolicyFile.Record(policy));
        var resolver = new InMemoryDnsResolver(zone);
        var asked = new List<string>();
        async Task<DnsProblem[]> StsProblems(Postern.Security.MtaSts.MtaStsPolicy? served, string? error)
        {
            var report = await DnsCheck.RunAsync(resolver, inputs, [], CancellationToken.None, (d, _) =>
            {
                asked.Add(d);
                return Task.FromResult((served, error));
            });
            return [.. report.Problems.Where(p => p.Name.StartsWith("mta-sts.", StringComparison.Ordinal) || p.Name.StartsWith("_mta-sts.", StringComparison.Ordinal))];
        }

        // The same policy: only the missing CNAME of mta-sts is a problem.
        var same = await StsProblems(policy with { }, null);
        Assert.Equal(new[] { "example.org" }, asked);
        Assert.Equal("mta-sts.example.org.: missing", Assert.Single(same).Name + ": " + Assert.Single(same).Problem);
        // Another policy (an old server, or another host answering): the announced id does not describe it.
        var other = await StsProblems(policy with { Mode = Postern.Security.MtaSts.MtaStsMode.Testing }, null);
        Assert.Contains(other, p => p.Problem.Contains("serves a different policy", StringComparison.Ordinal) && p.Problem.Contains("mode testing", StringComparison.Ordinal));
        // Not reachable.
        var none = await StsProblems(null, "https://mta-sts.example.org/.well-known/mta-sts.txt: cannot connect");
        Assert.Contains(none, p => p.Problem == "the MTA-STS policy cannot be fetched: https://mta-sts.example.org/.well-known/mta-sts.txt: cannot connect");
    }
}
