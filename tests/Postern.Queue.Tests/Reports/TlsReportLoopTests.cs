using System.Net;
using Postern.Dns;
using Postern.Queue.Reports;
using Postern.Smtp.Client;
using Postern.Store.Reports;

namespace Postern.Queue.Tests.Reports;

/// <summary>
/// RFC 8460 §3: the SMTP session that delivers a TLS report is not counted in the next report
/// (otherwise a domain with a TLS problem gets a report about the delivery of its report, every day).
/// </summary>
public class TlsReportLoopTests
{
    /// <summary>Hands remote deliveries to a transport set after the setup exists (it needs the setup's result store).</summary>
    private sealed class LateTransport : IOutboundTransport
    {
        public IOutboundTransport? Inner { get; set; }

        public Task<OutboundResult> DeliverAsync(OutboundRequest request, CancellationToken cancellationToken) => Inner!.DeliverAsync(request, cancellationToken);
    }

    [Fact]
    public async Task The_delivery_of_a_tls_report_is_not_recorded_and_does_not_show_in_the_next_days_report()
    {
        var late = new LateTransport();
        await using var s = await ReportSetup.CreateAsync(remote: late);
        // remote.example: a DNSSEC-signed MX whose TLSA lookup fails, so every attempt is a recorded failure
        // (dnssec-invalid, RFC 7672 §2.2) without any connection being made.
        var dns = new InMemoryDnsResolver { AuthenticByDefault = true };
        dns.Zone.AddMx("remote.example", 10, "mx.remote.example");
        dns.Zone.AddMx("other.example", 10, "mx.remote.example");
        dns.Zone.AddAddress("mx.remote.example", IPAddress.Loopback);
        dns.SetFailure("_25._tcp.mx.remote.example", DnsOutcome.ServFail, DnsRecordType.TLSA);
        await using var recorder = new TlsResultRecorder(new NonDisposingStore(s.Tls));
        late.Inner = new DirectTransport(new MxResolver(dns), new DirectTransportOptions
        {
            Client = new SmtpClientOptions { LocalHostName = "mail.example.org" },
            Security = new DeliverySecurityOptions { TlsResults = recorder, Time = s.Clock },
        });
        // other.example wants its reports at remote.example.
        s.Dns.Zone.AddTxt("_smtp._tls.other.example", "v=TLSRPTv1; rua=mailto:tlsrpt@remote.example");
        s.Dns.Zone.AddTxt("_smtp._tls.remote.example", "v=TLSRPTv1; rua=mailto:tlsrpt@remote.example");

        // Day 1: an ordinary message to other.example is deferred, and its failure is recorded.
        long ordinary = await s.F.EnqueueAsync(["bob@other.example"]);
        await s.F.Queue.RunDueAsync();
        await recorder.FlushAsync();
        Assert.Equal(["other.example"], await s.Tls.ListPolicyDomainsAsync(DateOnly.FromDateTime(ReportSetup.Day1.UtcDateTime)));
        Assert.False((await s.F.Store.GetAsync(ordinary))!.Message.Flags.HasFlag(QueueMessageFlags.TlsReport));

        // Day 2, after midnight: the report about other.example goes to tlsrpt@remote.example through the same failing MX.
        s.Clock.Now = new DateTimeOffset(2026, 3, 2, 0, 5, 0, TimeSpan.Zero);
        ReportDispatch d = Assert.Single(await s.Sender.RunAsync(), x => x.Kind == "tls");
        Assert.StartsWith("queued as ", d.Status);
        long reportId = long.Parse(d.Status["queued as ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        QueueMessageDetails report = (await s.F.Store.GetAsync(reportId))!;
        Assert.True(report.Message.Flags.HasFlag(QueueMessageFlags.TlsReport));
        await s.F.Queue.RunDueAsync();
        await recorder.FlushAsync();
        report = (await s.F.Store.GetAsync(reportId))!;
        Assert.Contains("RFC 7672", report.Recipients[0].Text, StringComparison.Ordinal); // it was attempted (and deferred)...
        Assert.DoesNotContain("remote.example", await s.Tls.ListPolicyDomainsAsync(new DateOnly(2026, 3, 2))); // ...but not counted

        // Day 3: remote.example gets no report about the delivery of its report (other.example does, for the retried message).
        s.Clock.Now = new DateTimeOffset(2026, 3, 3, 0, 5, 0, TimeSpan.Zero);
        Assert.DoesNotContain(await s.Sender.RunAsync(dryRun: true), x => x.Kind == "tls" && x.PolicyDomain == "remote.example");
    }
}
