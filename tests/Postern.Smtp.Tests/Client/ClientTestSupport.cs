using System.Net;
using System.Text;
using Postern.Dns;
using Postern.Smtp.Client;

namespace Postern.Smtp.Tests.Client;

internal static class ClientTestSupport
{
    public const string Domain = "example.test";

    /// <summary>Generous for a loaded machine: tests that do not wait for a timeout.</summary>
    public static readonly SmtpClientTimeouts ShortTimeouts = SmtpClientTimeouts.All(TimeSpan.FromSeconds(20));

    /// <summary>
    /// For tests that wait for a reply timeout to expire. Connecting to the loopback peer keeps a generous limit: on a
    /// loaded machine (the full suite in CI) a 1 s connect timeout expired before the connection's continuation ran.
    /// </summary>
    public static readonly SmtpClientTimeouts ExpiringTimeouts = SmtpClientTimeouts.All(TimeSpan.FromSeconds(1)) with { Connect = TimeSpan.FromSeconds(20) };

    public static OutboundRequest Request(string message, params string[] recipients) => Request(Encoding.UTF8.GetBytes(message), recipients);

    public static OutboundRequest Request(byte[] message, string[] recipients, bool eightBit = false, bool utf8 = false, string from = "sender@origin.test", string domain = Domain, int attempt = 1) =>
        new(domain, from, recipients.Select(r => new OutboundRecipient(r)).ToList(), () => new MemoryStream(message), message.Length,
            eightBit, utf8, false, null, null, attempt, from.Contains('@') ? from[(from.LastIndexOf('@') + 1)..] : "origin.test");

    public static string Message(string body = "Hello.\r\n") => "From: sender@origin.test\r\nTo: rcpt@example.test\r\nSubject: test\r\n\r\n" + body;

    /// <summary>An in-memory DNS where example.test's MX is mx.fake.test at <paramref name="address"/>.</summary>
    public static InMemoryDnsResolver Dns(IPAddress? address = null)
    {
        var zone = new DnsZone();
        zone.AddMx(Domain, 10, "mx.fake.test");
        zone.AddAddress("mx.fake.test", address ?? IPAddress.Loopback);
        return new InMemoryDnsResolver(zone);
    }

    public static DirectTransport Direct(IDnsResolver dns, int port, IOutboundTlsPolicy? policy = null, SmtpClientTimeouts? timeouts = null) =>
        new(new MxResolver(dns), new DirectTransportOptions
        {
            Port = port,
            Client = new SmtpClientOptions { LocalHostName = "client.test", Timeouts = timeouts ?? ShortTimeouts },
            TlsPolicy = policy ?? new OpportunisticTlsPolicy(),
        });

    public static async Task<OutboundResult> SendAsync(FakeSmtpPeer peer, OutboundRequest request, IOutboundTlsPolicy? policy = null, SmtpClientTimeouts? timeouts = null)
    {
        var transport = Direct(Dns(peer.Address), peer.Port, policy, timeouts);
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        return await transport.DeliverAsync(request, cts.Token);
    }
}
