using Postern.Config;

namespace Postern.Tests;

/// <summary>The per-listener `dnsbl:` setting of postern.conf.</summary>
public class DnsblConfigTests
{
    private static string Conf(string dnsbl) => $"""
        hostname: mail.test
        listeners:
          public:
            ips: [127.0.0.1]
            smtp: {"{"}enabled: true, port: 2525{"}"}
            dnsbl: {dnsbl}
        """;

    [Fact]
    public void Zones_are_read_per_listener()
    {
        ServerConfig c = ConfigLoader.Parse(Conf("[zen.example, bl.example.net.]"), "t.conf");
        Assert.Equal(["zen.example", "bl.example.net."], c.Listeners["public"].Dnsbl);
        Assert.Empty(ConfigLoader.Parse(Conf("[]"), "t.conf").Listeners["public"].Dnsbl);
    }

    [Fact]
    public void A_zone_that_is_not_a_dns_name_is_an_error_naming_the_setting()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Conf("[zen.example, \"bad zone!\"]"), "t.conf"));
        Assert.Contains(e.Errors, x => x.Contains("listeners.public.dnsbl[1]", StringComparison.Ordinal));
    }
}
