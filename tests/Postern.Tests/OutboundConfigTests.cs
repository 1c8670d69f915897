using Postern.Config;
using Postern.Dns;
using Postern.Serve;
using Postern.Smtp.Client;

namespace Postern.Tests;

/// <summary>The transports and routes sections of postern.conf.</summary>
public class OutboundConfigTests
{
    private const string Base = """
        hostname: mail.example.com
        listeners:
          public:
            ips: [127.0.0.1]
            smtp:
              enabled: true
              port: 2525

        """;

    [Fact]
    public void Transports_and_routes_build_a_router()
    {
        using var tmp = new TempFolder();
        File.WriteAllText(tmp.Sub("pw"), "s3cret\n");
        string text = Base + """
            transports:
              provider:
                type: smarthost
                host: smtp.provider.example
                tls: implicit
                username: me
                password-file: pw
              lan:
                type: relay
                host: 10.0.0.5
                socks5: 127.0.0.1:1080
            routes:
              - from-domains: [example.com]
                transport: provider
              - to-domains: [.internal.example]
                minimum-attempt: 2
                transport: lan
            """;
        File.WriteAllText(tmp.Sub("postern.conf"), text);
        LoadedConfig loaded = ConfigLoader.Load(tmp.Sub("postern.conf"));
        TransportRouter router = OutboundTransportFactory.Create(loaded, new InMemoryDnsResolver());
        OutboundRequest Req(string from, string to, int attempt) =>
            new(to, "x@" + from, [new OutboundRecipient("y@" + to)], () => Stream.Null, 0, false, false, false, null, null, attempt, from);
        var provider = Assert.IsType<SmarthostTransport>(router.Choose(Req("example.com", "other.example", 1)));
        Assert.Equal(465, provider.Options.Port);
        Assert.Equal(SmarthostTlsMode.Implicit, provider.Options.Tls);
        Assert.Equal("s3cret", provider.Options.Password);
        Assert.IsType<DirectTransport>(router.Choose(Req("else.example", "a.internal.example", 1)));
        var lan = Assert.IsType<SmarthostTransport>(router.Choose(Req("else.example", "a.internal.example", 2)));
        Assert.Equal(25, lan.Options.Port);
        Assert.IsType<Socks5Dialer>(lan.Options.Dialer);
    }

    [Fact]
    public void Mistakes_are_reported_with_their_setting()
    {
        string text = Base + """
            transports:
              provider:
                type: smarthost
                tls: none
                username: me
            routes:
              - transport: nowhere
                minimum-attempt: 0
                to-domains: ["bad domain"]
            """;
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(text, "t.conf"));
        string all = string.Join("\n", e.Errors);
        foreach (string expected in new[] { "transports.provider.host", "transports.provider.tls", "transports.provider.password-file", "routes[0].transport", "routes[0].minimum-attempt", "routes[0].to-domains[0]" })
            Assert.Contains(expected, all);
    }
}
