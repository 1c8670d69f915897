using Postern.Testing;

namespace Postern.Tests;

/// <summary>Starts the DNSSEC lab once for the <c>postern dns lookup</c> tests.</summary>
public sealed class DnsLabFixture : IAsyncLifetime
{
    public DnsLab Lab { get; private set; } = null!;

    public async Task InitializeAsync() => Lab = await DnsLab.StartAsync();

    public async Task DisposeAsync()
    {
        if (Lab is not null) await Lab.DisposeAsync();
    }
}

public class DnsCommandTests(DnsLabFixture fixture) : IClassFixture<DnsLabFixture>
{
    private string Server => fixture.Lab.ResolverEndPoint.ToString();

    [Fact]
    public void Lookup_prints_signed_records_as_authentic()
    {
        var r = PosternProcess.Run("dns", "lookup", "MX", "signed.test", "--server", Server);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("signed.test. 300 IN MX 10 mail.signed.test.", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("authentic: yes", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Lookup_prints_unsigned_records_as_not_authentic_and_follows_cnames()
    {
        var r = PosternProcess.Run("dns", "lookup", "txt", "insecure.test", "--server", Server);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("insecure.test. 300 IN TXT \"not signed\"", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("authentic: no", r.Stdout, StringComparison.Ordinal);

        var c = PosternProcess.Run("dns", "lookup", "A", "www.signed.test", "--server", Server);
        Assert.Contains("www.signed.test. 300 IN CNAME mail.signed.test.", c.Stdout, StringComparison.Ordinal);
        Assert.Contains("mail.signed.test. 300 IN A 127.0.0.1", c.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Lookup_reports_bogus_signatures_as_temporary_failure_with_ede()
    {
        var r = PosternProcess.Run("dns", "lookup", "TXT", DnsLab.TamperedName, "--server", Server);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("SERVFAIL", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("EDE", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Lookup_reports_nxdomain_and_bad_input()
    {
        var nx = PosternProcess.Run("dns", "lookup", "A", "nope.signed.test", "--server", Server);
        Assert.Equal(1, nx.ExitCode);
        Assert.Contains("NXDOMAIN", nx.Stdout, StringComparison.Ordinal);
        Assert.Contains("authentic: yes", nx.Stdout, StringComparison.Ordinal);
        Assert.Equal(3, PosternProcess.Run("dns", "lookup", "BOGUSTYPE", "signed.test", "--server", Server).ExitCode);
    }
}
