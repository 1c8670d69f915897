using System.Net;
using Postern.Dns;

namespace Postern.Dns.Tests;

public class DnsNameTests
{
    [Theory]
    [InlineData("Example.COM.", "example.com")]
    [InlineData("bücher.example", "xn--bcher-kva.example")]
    [InlineData("_dmarc.Example.com", "_dmarc.example.com")]
    [InlineData("münchen.de.", "xn--mnchen-3ya.de")]
    public void Normalizes_names(string input, string expected) => Assert.Equal(expected, DnsName.Normalize(input));

    [Theory]
    [InlineData("")]
    [InlineData("a..b")]
    [InlineData(".a")]
    public void Rejects_malformed_names(string input) => Assert.False(DnsName.TryNormalize(input, out _, out _));

    [Fact]
    public void Rejects_overlong_labels_and_names()
    {
        Assert.False(DnsName.TryNormalize(new string('a', 64) + ".example", out _, out string? error));
        Assert.Contains("63", error, StringComparison.Ordinal);
        string longName = string.Join('.', Enumerable.Repeat(new string('a', 60), 5));
        Assert.False(DnsName.TryNormalize(longName, out _, out error));
        Assert.Contains("255", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Builds_reverse_names()
    {
        Assert.Equal("4.3.2.1.in-addr.arpa", DnsName.ReverseName(IPAddress.Parse("1.2.3.4")));
        Assert.Equal("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
            DnsName.ReverseName(IPAddress.Parse("2001:db8::1")));
    }

    [Fact]
    public void Compares_case_insensitively_and_checks_subdomains()
    {
        Assert.True(DnsName.Equals("Example.com.", "example.COM"));
        Assert.True(DnsName.IsSubdomainOf("a.b.example.com", "example.com"));
        Assert.True(DnsName.IsSubdomainOf("example.com", "example.com"));
        Assert.False(DnsName.IsSubdomainOf("badexample.com", "example.com"));
    }

    [Fact]
    public void Parses_resolv_conf()
    {
        ResolvConf c = DnsResolverOptions.ParseResolvConf("# comment\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\noptions edns0 timeout:2 attempts:3\n");
        Assert.Equal(2, c.Servers.Count);
        Assert.Equal("127.0.0.53:53", c.Servers[0].ToString());
        Assert.StartsWith("[fe80::1", c.Servers[1].ToString(), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(2), c.Timeout);
        Assert.Equal(3, c.Attempts);
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1:53")]
    [InlineData("127.0.0.1:5300", "127.0.0.1:5300")]
    [InlineData("::1", "[::1]:53")]
    [InlineData("[::1]:5300", "[::1]:5300")]
    public void Parses_server_endpoints(string text, string expected)
    {
        Assert.True(DnsResolverOptions.TryParseServer(text, out IPEndPoint? ep));
        Assert.Equal(expected, ep!.ToString());
    }

    [Fact]
    public void Trusts_only_loopback_by_default()
    {
        var o = new DnsResolverOptions();
        Assert.True(o.IsTrusted(IPAddress.Loopback));
        Assert.True(o.IsTrusted(IPAddress.IPv6Loopback));
        Assert.False(o.IsTrusted(IPAddress.Parse("8.8.8.8")));
        Assert.False(o.IsTrusted(IPAddress.Parse("127.0.0.53")));
        Assert.True(new DnsResolverOptions { TrustedServers = [IPAddress.Parse("127.0.0.53")] }.IsTrusted(IPAddress.Parse("127.0.0.53")));
        var custom = new DnsResolverOptions { TrustedServers = [IPAddress.Parse("10.0.0.1")] };
        Assert.False(custom.IsTrusted(IPAddress.Loopback));
        Assert.True(custom.IsTrusted(IPAddress.Parse("10.0.0.1")));
    }
}
