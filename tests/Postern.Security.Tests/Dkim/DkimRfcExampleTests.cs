using System.Text;
using Postern.Dns;
using Postern.Security.Dkim;

namespace Postern.Security.Tests.Dkim;

/// <summary>The example signatures published in RFC 6376 (Appendix A, with its errata) and RFC 8463 (Appendix A).</summary>
public class DkimRfcExampleTests
{
    // RFC 8463 Appendix A.3: one message signed with Ed25519 (selector brisbane) and RSA (selector test).
    private const string Rfc8463Message =
        "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n" +
        " d=football.example.com; i=@football.example.com;\r\n" +
        " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n" +
        " subject : date : message-id : from : subject : date;\r\n" +
        " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" +
        " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n" +
        " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n" +
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n" +
        " d=football.example.com; i=@football.example.com;\r\n" +
        " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n" +
        " date : message-id : from : subject : date;\r\n" +
        " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" +
        " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n" +
        " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n" +
        " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n" +
        "From: Joe SixPack <joe@football.example.com>\r\n" +
        "To: Suzie Q <suzie@shopping.example.net>\r\n" +
        "Subject: Is dinner ready?\r\n" +
        "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" +
        "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" +
        "\r\n" +
        "Hi.\r\n" +
        "\r\n" +
        "We lost the game.  Are you hungry yet?\r\n" +
        "\r\n" +
        "Joe.\r\n";

    private const string Rfc8463Ed25519Key = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

    private const string Rfc8463RsaKey = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

    // RFC 6376 Appendix A.2 (simple/simple), body as corrected by erratum 3192 (one space after "game.").
    private const string Rfc6376Message =
        "DKIM-Signature: v=1; a=rsa-sha256; s=brisbane; d=example.com;\r\n" +
        "      c=simple/simple; q=dns/txt; i=joe@football.example.com;\r\n" +
        "      h=Received : From : To : Subject : Date : Message-ID;\r\n" +
        "      bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" +
        "      b=AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB\r\n" +
        "      4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut\r\n" +
        "      KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV\r\n" +
        "      4bmp/YzhwvcubU4=;\r\n" +
        "Received: from client1.football.example.com  [192.0.2.1]\r\n" +
        "      by submitserver.example.com with SUBMISSION;\r\n" +
        "      Fri, 11 Jul 2003 21:01:54 -0700 (PDT)\r\n" +
        "From: Joe SixPack <joe@football.example.com>\r\n" +
        "To: Suzie Q <suzie@shopping.example.net>\r\n" +
        "Subject: Is dinner ready?\r\n" +
        "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" +
        "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" +
        "\r\n" +
        "Hi.\r\n" +
        "\r\n" +
        "We lost the game. Are you hungry yet?\r\n" +
        "\r\n" +
        "Joe.\r\n";

    // RFC 6376 Appendix C: the public key of selector brisbane.
    private const string Rfc6376Key = "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";

    [Fact]
    public async Task Rfc8463_example_verifies_with_both_keys()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("brisbane._domainkey.football.example.com", Rfc8463Ed25519Key);
        dns.Zone.AddTxt("test._domainkey.football.example.com", Rfc8463RsaKey);
        IReadOnlyList<DkimSignatureResult> r = await new DkimVerifier(dns).VerifyAsync(Encoding.ASCII.GetBytes(Rfc8463Message));
        Assert.Equal(2, r.Count);
        Assert.All(r, x => Assert.True(x.Result == DkimResult.Pass, x.ToString()));
        Assert.Equal(DkimAlgorithm.Ed25519Sha256, r[0].Signature!.Algorithm);
        Assert.Equal(256, r[0].KeyBits);
        Assert.Equal(1024, r[1].KeyBits);
    }

    [Fact]
    public async Task Rfc8463_example_verifies_from_a_stream()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("brisbane._domainkey.football.example.com", Rfc8463Ed25519Key);
        dns.Zone.AddTxt("test._domainkey.football.example.com", Rfc8463RsaKey);
        using var stream = new MemoryStream(Encoding.ASCII.GetBytes(Rfc8463Message));
        IReadOnlyList<DkimSignatureResult> r = await new DkimVerifier(dns).VerifyAsync(stream);
        Assert.All(r, x => Assert.Equal(DkimResult.Pass, x.Result));
    }

    [Fact]
    public async Task Rfc6376_example_verifies()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("brisbane._domainkey.example.com", Rfc6376Key);
        IReadOnlyList<DkimSignatureResult> r = await new DkimVerifier(dns).VerifyAsync(Encoding.ASCII.GetBytes(Rfc6376Message));
        DkimSignatureResult s = Assert.Single(r);
        Assert.True(s.Result == DkimResult.Pass, s.ToString());
        Assert.Equal("joe@football.example.com", s.Signature!.Identity);
    }

    [Fact]
    public async Task Rfc8463_example_with_altered_subject_fails()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("brisbane._domainkey.football.example.com", Rfc8463Ed25519Key);
        dns.Zone.AddTxt("test._domainkey.football.example.com", Rfc8463RsaKey);
        string altered = Rfc8463Message.Replace("Is dinner ready?", "Is lunch ready?", StringComparison.Ordinal);
        IReadOnlyList<DkimSignatureResult> r = await new DkimVerifier(dns).VerifyAsync(Encoding.ASCII.GetBytes(altered));
        Assert.All(r, x => Assert.Equal(DkimResult.Fail, x.Result));
    }

    [Fact]
    public async Task Dnssec_status_of_the_key_is_reported()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("brisbane._domainkey.football.example.com", Rfc8463Ed25519Key);
        dns.Zone.AddTxt("test._domainkey.football.example.com", Rfc8463RsaKey);
        dns.SetAuthentic("brisbane._domainkey.football.example.com");
        IReadOnlyList<DkimSignatureResult> r = await new DkimVerifier(dns).VerifyAsync(Encoding.ASCII.GetBytes(Rfc8463Message));
        Assert.True(r[0].KeyDnssecAuthentic);
        Assert.False(r[1].KeyDnssecAuthentic);
    }
}
