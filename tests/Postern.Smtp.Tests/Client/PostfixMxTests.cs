using System.Net;
using System.Text;
using Postern.Smtp.Client;
using Postern.Smtp.Tests.Interop;
using Postern.Testing;

namespace Postern.Smtp.Tests.Client;

/// <summary>
/// Two Postfix instances on port 25 of two loopback addresses are the MX hosts of lab domains
/// that the DNS lab (nsd + unbound) serves; a third address has nothing listening.
/// </summary>
public sealed class PostfixMxFixture : IAsyncLifetime
{
    public const string Lab = "lab." + DnsLab.InsecureZone;
    public const string Down = "down." + DnsLab.InsecureZone;

    public DnsLab Dns { get; private set; } = null!;
    public PostfixMxInstance Mx1 { get; private set; } = null!;
    public PostfixMxInstance Mx2 { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Assert.True(PostfixInstance.Available, "postfix is not installed (scripts/test-packages.txt)");
        // Addresses picked at random in 127/8 so that parallel test runs do not meet on port 25.
        int a = Random.Shared.Next(16, 250), b = Random.Shared.Next(16, 250);
        IPAddress ip1 = IPAddress.Parse($"127.{a}.{b}.2"), ip2 = IPAddress.Parse($"127.{a}.{b}.3"), ipDown = IPAddress.Parse($"127.{a}.{b}.4");
        Dns = await DnsLab.StartAsync(new Dictionary<string, string>
        {
            [DnsLab.InsecureZone] = $"""
                lab IN MX 10 mx1
                lab IN MX 20 mx2
                down IN MX 10 mxdown
                down IN MX 20 mx2
                mx1 IN A {ip1}
                mx2 IN A {ip2}
                mxdown IN A {ipDown}
                """,
        });
        string[] domains = [Lab, Down];
        Mx1 = await PostfixMxInstance.StartAsync(ip1, "mx1." + DnsLab.InsecureZone, domains);
        Mx2 = await PostfixMxInstance.StartAsync(ip2, "mx2." + DnsLab.InsecureZone, domains);
    }

    public async Task DisposeAsync()
    {
        Mx1?.Dispose();
        Mx2?.Dispose();
        if (Dns is not null) await Dns.DisposeAsync();
    }
}

/// <summary>Direct delivery to real MX hosts (Postfix) found through real DNS.</summary>
public class PostfixMxTests(PostfixMxFixture fixture) : IClassFixture<PostfixMxFixture>
{
    private DirectTransport Transport() => new(new MxResolver(fixture.Dns.CreateResolver()), new DirectTransportOptions
    {
        Client = new SmtpClientOptions { LocalHostName = "client.test", Timeouts = ClientTestSupport.ShortTimeouts },
    });

    private static OutboundRequest Request(string domain, string to, string subject, bool utf8 = false)
    {
        byte[] message = Encoding.UTF8.GetBytes($"From: sender@origin.test\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@origin.test>\r\n\r\nHello.\r\n");
        return new OutboundRequest(domain, "sender@origin.test", [new OutboundRecipient(to)], () => new MemoryStream(message), message.Length,
            utf8, utf8, false, null, null, 1, "origin.test");
    }

    [Fact]
    public async Task Delivers_to_the_preferred_mx()
    {
        OutboundResult r = await Transport().DeliverAsync(Request(PostfixMxFixture.Lab, "user@" + PostfixMxFixture.Lab, "to mx1"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal("mx1." + DnsLab.InsecureZone, r.RemoteHost);
        Assert.Contains(await fixture.Mx1.WaitForMessagesAsync(1), m => m.Contains("Subject: to mx1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Falls_back_to_the_second_mx_when_the_first_is_down()
    {
        OutboundResult r = await Transport().DeliverAsync(Request(PostfixMxFixture.Down, "user@" + PostfixMxFixture.Down, "first mx down"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal("mx2." + DnsLab.InsecureZone, r.RemoteHost);
        Assert.Contains("mxdown." + DnsLab.InsecureZone, r.Log);
        List<string> got = [];
        for (int i = 0; i < 300 && !got.Any(m => m.Contains("Subject: first mx down", StringComparison.Ordinal)); i++)
        {
            await Task.Delay(100);
            got = fixture.Mx2.Messages();
        }
        Assert.Contains(got, m => m.Contains("Subject: first mx down", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Delivers_an_smtputf8_recipient()
    {
        string to = "j\u00f6rg@" + PostfixMxFixture.Lab;
        OutboundResult r = await Transport().DeliverAsync(Request(PostfixMxFixture.Lab, to, "utf8 recipient", utf8: true), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        string? m = null;
        for (int i = 0; i < 300 && m is null; i++)
        {
            m = fixture.Mx1.Messages().FirstOrDefault(x => x.Contains("Subject: utf8 recipient", StringComparison.Ordinal));
            if (m is null) await Task.Delay(100);
        }
        Assert.NotNull(m);
        Assert.Contains("Delivered-To: " + to, m);
        Assert.True(m.Contains("with UTF8", StringComparison.Ordinal), m);
    }
}
