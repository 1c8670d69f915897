using System.Net;
using System.Text;
using Postern.Dns;
using Postern.Smtp.Client;
using static Postern.Smtp.Tests.Client.ClientTestSupport;

namespace Postern.Smtp.Tests.Client;

/// <summary>Peers that misbehave: every attempt ends in a temporary result, never an exception.</summary>
public class ClientRobustnessTests
{
    private static async Task<OutboundRecipientResult> OnlyResultAsync(Func<FakePeerSession, Task> handler)
    {
        await using var peer = FakeSmtpPeer.Start(handler);
        OutboundResult r = await SendAsync(peer, Request(Message(), "a@example.test"), timeouts: ExpiringTimeouts);
        OutboundRecipientResult x = Assert.Single(r.Recipients);
        Assert.False(x.Delivered, r.Log);
        Assert.False(x.Permanent, r.Log);
        return x;
    }

    private static async Task Greet(FakePeerSession s) => await s.WriteAsync("220 fake.test ESMTP");

    [Fact]
    public async Task Garbage_instead_of_a_greeting()
    {
        var x = await OnlyResultAsync(async s => await s.WriteRawAsync("\u0001\u0002garbage\r\n"u8.ToArray()));
        Assert.Contains("malformed reply", x.Text);
    }

    [Fact]
    public async Task Garbage_in_the_middle_of_a_multiline_reply()
    {
        var x = await OnlyResultAsync(async s =>
        {
            await Greet(s);
            await s.ReadLineAsync();
            await s.WriteAsync("250-fake.test\r\n251 PIPELINING");
            await s.ReadLineAsync();
        });
        Assert.Contains("codes differ", x.Text);
    }

    [Fact]
    public async Task An_endless_multiline_reply()
    {
        var x = await OnlyResultAsync(async s =>
        {
            await Greet(s);
            await s.ReadLineAsync();
            byte[] line = "250-X-ENDLESS\r\n"u8.ToArray();
            while (!s.Stop.IsCancellationRequested)
                await s.WriteRawAsync(line);
        });
        Assert.Contains("lines", x.Text);
    }

    [Fact]
    public async Task An_endless_reply_line()
    {
        var x = await OnlyResultAsync(async s =>
        {
            await Greet(s);
            await s.ReadLineAsync();
            byte[] chunk = Encoding.ASCII.GetBytes("250-" + new string('x', 4000));
            while (!s.Stop.IsCancellationRequested)
                await s.WriteRawAsync(chunk);
        });
        Assert.Contains("longer than", x.Text);
    }

    [Fact]
    public async Task A_reply_slower_than_the_timeout()
    {
        var x = await OnlyResultAsync(async s =>
        {
            await Greet(s);
            await s.ReadLineAsync();
            await Task.Delay(Timeout.Infinite, s.Stop);
        });
        Assert.Contains("timeout", x.Text);
    }

    [Fact]
    public async Task A_reply_dripping_one_byte_at_a_time_is_bounded_by_the_timeout()
    {
        var x = await OnlyResultAsync(async s =>
        {
            await Greet(s);
            await s.ReadLineAsync();
            while (!s.Stop.IsCancellationRequested)
            {
                await s.WriteRawAsync("2"u8.ToArray());
                await Task.Delay(200, s.Stop);
            }
        });
        Assert.Contains("timeout", x.Text);
    }

    [Fact]
    public async Task A_hangup_in_the_middle_of_data()
    {
        var x = await OnlyResultAsync(async s =>
        {
            await Greet(s);
            await s.ReadLineAsync();
            await s.WriteAsync("250 fake.test");
            await s.ReadLineAsync();
            await s.WriteAsync("250 ok");
            await s.ReadLineAsync();
            await s.WriteAsync("250 ok");
            await s.ReadLineAsync();
            await s.WriteAsync("354 go");
            await s.ReadLineAsync(); // first line of the message, then hang up
        });
        Assert.Matches("connection (closed|lost)", x.Text);
    }

    [Fact]
    public async Task A_greeting_that_refuses_is_temporary_for_the_attempt()
    {
        var x = await OnlyResultAsync(async s => await s.WriteAsync("554 5.3.2 no service"));
        Assert.Contains("554", x.Text);
    }

    [Fact]
    public async Task Data_sent_after_the_starttls_reply_is_refused_as_injection()
    {
        var x = await OnlyResultAsync(async s =>
        {
            await Greet(s);
            await s.ReadLineAsync();
            await s.WriteAsync("250-fake.test\r\n250 STARTTLS");
            await s.ReadLineAsync();
            await s.WriteAsync("220 go ahead\r\n250 injected");
            await Task.Delay(Timeout.Infinite, s.Stop);
        });
        Assert.Contains("injection", x.Text);
    }

    [Fact]
    public async Task A_peer_that_is_not_there()
    {
        int port = Interop.PostfixInstance.FreePort();
        var transport = Direct(ClientTestSupport.Dns(), port);
        OutboundResult r = await transport.DeliverAsync(Request(Message(), "a@example.test"), CancellationToken.None);
        Assert.False(r.Recipients[0].Permanent);
        Assert.Equal("4.4.1", r.Recipients[0].Enhanced);
        Assert.Null(r.RemoteIp);
    }
}

/// <summary>MX resolution and fallbacks between hosts and addresses.</summary>
public class MxDeliveryTests
{
    [Fact]
    public async Task Null_mx_fails_every_recipient_permanently()
    {
        var zone = new DnsZone().AddMx(Domain, 0, ".");
        OutboundResult r = await Direct(new InMemoryDnsResolver(zone), 25).DeliverAsync(Request(Message(), "a@example.test", "b@example.test"), CancellationToken.None);
        Assert.All(r.Recipients, x => Assert.True(x.Permanent && x.Enhanced == "5.1.10", x.Text));
    }

    [Fact]
    public async Task Nxdomain_is_permanent_and_a_dns_failure_temporary()
    {
        OutboundResult r = await Direct(new InMemoryDnsResolver(new DnsZone()), 25).DeliverAsync(Request(Message(), "a@nowhere.test") with { RecipientDomain = "nowhere.test" }, CancellationToken.None);
        Assert.True(r.Recipients[0].Permanent && r.Recipients[0].Enhanced == "5.1.2", r.Recipients[0].Text);
        var dns = ClientTestSupport.Dns();
        dns.SetFailure(Domain, DnsOutcome.ServFail);
        r = await Direct(dns, 25).DeliverAsync(Request(Message(), "a@example.test"), CancellationToken.None);
        Assert.False(r.Recipients[0].Permanent);
        Assert.Equal("4.4.3", r.Recipients[0].Enhanced);
    }

    [Fact]
    public async Task Implicit_mx_uses_the_domains_address()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior());
        var zone = new DnsZone().AddAddress(Domain, IPAddress.Loopback);
        OutboundResult r = await Direct(new InMemoryDnsResolver(zone), peer.Port).DeliverAsync(Request(Message(), "a@example.test"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal(Domain, r.RemoteHost);
    }

    [Fact]
    public async Task A_domain_without_mx_or_address_is_permanent()
    {
        var zone = new DnsZone().AddTxt(Domain, "v=spf1 -all");
        OutboundResult r = await Direct(new InMemoryDnsResolver(zone), 25).DeliverAsync(Request(Message(), "a@example.test"), CancellationToken.None);
        Assert.True(r.Recipients[0].Permanent && r.Recipients[0].Enhanced == "5.1.2", r.Recipients[0].Text);
    }

    [Fact]
    public async Task Mx_through_a_cname_and_an_address_literal()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior());
        var zone = new DnsZone().AddCname(Domain, "real.test").AddMx("real.test", 5, "mx.fake.test").AddAddress("mx.fake.test", IPAddress.Loopback);
        OutboundResult r = await Direct(new InMemoryDnsResolver(zone), peer.Port).DeliverAsync(Request(Message(), "a@example.test"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        r = await Direct(new InMemoryDnsResolver(new DnsZone()), peer.Port).DeliverAsync(Request(Message(), "a@[127.0.0.1]") with { RecipientDomain = "[127.0.0.1]" }, CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
    }

    [Fact]
    public async Task The_second_mx_is_used_when_the_first_is_down()
    {
        // Two loopback addresses, the same port: nothing listens on the first.
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior(), IPAddress.Parse("127.0.0.3"));
        var zone = new DnsZone().AddMx(Domain, 10, "mx1.fake.test").AddMx(Domain, 20, "mx2.fake.test")
            .AddAddress("mx1.fake.test", "127.0.0.2").AddAddress("mx2.fake.test", "127.0.0.3");
        OutboundResult r = await Direct(new InMemoryDnsResolver(zone), peer.Port).DeliverAsync(Request(Message(), "a@example.test"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Equal("mx2.fake.test", r.RemoteHost);
        Assert.Contains("mx1.fake.test [127.0.0.2]", r.Log);
    }

    [Fact]
    public async Task A_temporary_mail_refusal_moves_on_to_the_next_mx()
    {
        await using var busy = FakeSmtpPeer.StartStandard(new PeerBehavior { MailReply = "451 4.3.2 busy" }, IPAddress.Parse("127.0.0.2"));
        await using var good = FakeSmtpPeer.StartStandard(new PeerBehavior(), IPAddress.Parse("127.0.0.3"), busy.Port);
        var zone = new DnsZone().AddMx(Domain, 10, "mx1.fake.test").AddMx(Domain, 20, "mx2.fake.test")
            .AddAddress("mx1.fake.test", "127.0.0.2").AddAddress("mx2.fake.test", "127.0.0.3");
        OutboundResult r = await Direct(new InMemoryDnsResolver(zone), busy.Port).DeliverAsync(Request(Message(), "a@example.test"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Single(good.Messages);
    }

    [Fact]
    public async Task Ipv6_is_tried_first_and_ipv4_remembered_when_it_worked()
    {
        await using var peer = FakeSmtpPeer.StartStandard(new PeerBehavior());
        var zone = new DnsZone().AddMx(Domain, 10, "mx.fake.test").AddAddress("mx.fake.test", IPAddress.IPv6Loopback).AddAddress("mx.fake.test", IPAddress.Loopback);
        var transport = Direct(new InMemoryDnsResolver(zone), peer.Port);
        OutboundResult r = await transport.DeliverAsync(Request(Message(), "a@example.test"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.Contains("[::1]", r.Log);
        Assert.Equal(IPAddress.Loopback, transport.Resolver.LastWorking("mx.fake.test"));
        r = await transport.DeliverAsync(Request(Message(), "a@example.test"), CancellationToken.None);
        Assert.True(r.Recipients[0].Delivered, r.Log);
        Assert.DoesNotContain("[::1]", r.Log);
    }

    [Fact]
    public async Task Mx_hosts_of_equal_preference_are_shuffled()
    {
        var zone = new DnsZone();
        for (int i = 0; i < 6; i++) zone.AddMx(Domain, 10, $"mx{i}.fake.test");
        zone.AddMx(Domain, 5, "first.fake.test");
        var resolver = new MxResolver(new InMemoryDnsResolver(zone));
        var orders = new HashSet<string>();
        for (int i = 0; i < 30; i++)
        {
            MxResolution m = await resolver.ResolveDomainAsync(Domain, CancellationToken.None);
            Assert.Equal("first.fake.test", m.Hosts[0].Name);
            Assert.Equal(7, m.Hosts.Count);
            orders.Add(string.Join(",", m.Hosts.Select(h => h.Name)));
        }
        Assert.True(orders.Count > 1);
    }
}
