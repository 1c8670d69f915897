using Postern.Config;
using Postern.Serve;
using Postern.Smtp.Client;

namespace Postern.Tests;

/// <summary>The <c>outgoing-tls</c> section of postern.conf: switches for DANE and MTA-STS on outgoing mail.</summary>
public class OutgoingTlsConfigTests
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
    public void Both_are_on_by_default_and_the_options_are_left_as_they_are()
    {
        ServerConfig c = ConfigLoader.Parse(Base, "postern.conf");
        Assert.True(c.OutgoingTls.Dane);
        Assert.True(c.OutgoingTls.MtaSts);
        using var sts = new Postern.Security.MtaSts.MtaStsClient(new Postern.Dns.InMemoryDnsResolver(), new Postern.Security.MtaSts.InMemoryMtaStsPolicyCache());
        var security = new DeliverySecurityOptions { MtaSts = sts };
        DeliverySecurityOptions applied = OutboundTransportFactory.ApplyOutgoingTls(c.OutgoingTls, security)!;
        Assert.True(applied.Dane);
        Assert.Same(sts, applied.MtaSts);
    }

    [Fact]
    public void Turning_them_off_removes_dane_and_the_mta_sts_client()
    {
        ServerConfig c = ConfigLoader.Parse(Base + """
            outgoing-tls:
              dane: false
              mta-sts: false
            """, "postern.conf");
        Assert.False(c.OutgoingTls.Dane);
        Assert.False(c.OutgoingTls.MtaSts);
        using var sts = new Postern.Security.MtaSts.MtaStsClient(new Postern.Dns.InMemoryDnsResolver(), new Postern.Security.MtaSts.InMemoryMtaStsPolicyCache());
        DeliverySecurityOptions applied = OutboundTransportFactory.ApplyOutgoingTls(c.OutgoingTls, new DeliverySecurityOptions { MtaSts = sts })!;
        Assert.False(applied.Dane);
        Assert.Null(applied.MtaSts);

        // One at a time.
        ServerConfig daneOnly = ConfigLoader.Parse(Base + "outgoing-tls:\n  dane: false\n", "postern.conf");
        applied = OutboundTransportFactory.ApplyOutgoingTls(daneOnly.OutgoingTls, new DeliverySecurityOptions { MtaSts = sts })!;
        Assert.False(applied.Dane);
        Assert.Same(sts, applied.MtaSts);
    }

    [Fact]
    public void A_misspelt_or_non_boolean_setting_is_an_error_naming_it()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Base + "outgoing-tls:\n  dane: sometimes\n", "postern.conf"));
        Assert.Contains("dane", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Base + "outgoing-tls:\n  mtasts: false\n", "postern.conf"));
        Assert.Contains("mtasts", e.Message, StringComparison.Ordinal);
    }
}
