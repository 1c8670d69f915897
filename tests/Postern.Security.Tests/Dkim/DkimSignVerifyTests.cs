using System.Security.Cryptography;
using System.Text;
using Postern.Dns;
using Postern.Security.Dkim;

namespace Postern.Security.Tests.Dkim;

/// <summary>Signing and verifying round trips, key record tags and refusals.</summary>
public class DkimSignVerifyTests
{
    internal const string Message =
        "From: Alice <alice@example.org>\r\n" +
        "To: Bob <bob@example.net>\r\n" +
        "Subject: Hello  there\r\n" +
        "Date: Mon, 30 Nov 2026 06:00:00 +0000\r\n" +
        "Message-ID: <1@example.org>\r\n" +
        "\r\n" +
        "Line one.  \r\n" +
        "\tLine two\r\n" +
        "\r\n\r\n";

    private static readonly Lazy<DkimPrivateKey> Rsa = new(() => DkimPrivateKey.GenerateRsa(2048));
    private static readonly Lazy<DkimPrivateKey> Ed = new(DkimPrivateKey.GenerateEd25519);

    private static (InMemoryDnsResolver Dns, string Signed) SignWith(DkimPrivateKey key, string? keyRecord = null, Func<DkimSignerOptions, DkimSignerOptions>? tweak = null, string message = Message)
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("sel._domainkey.example.org", keyRecord ?? key.DnsRecordText());
        var options = new DkimSignerOptions { Domain = "example.org", Selector = "sel", Key = key };
        if (tweak is not null) options = tweak(options);
        string header = new DkimSigner(options).Sign(Encoding.UTF8.GetBytes(message));
        return (dns, header + message);
    }

    private static async Task<DkimSignatureResult> VerifyOne(InMemoryDnsResolver dns, string message, DkimVerifierOptions? options = null) =>
        Assert.Single(await new DkimVerifier(dns, options).VerifyAsync(Encoding.UTF8.GetBytes(message)));

    public static TheoryData<string> Keys() => ["rsa", "ed25519"];

    private static DkimPrivateKey KeyOf(string kind) => kind == "rsa" ? Rsa.Value : Ed.Value;

    [Theory]
    [MemberData(nameof(Keys))]
    public async Task Signed_message_verifies(string kind)
    {
        (InMemoryDnsResolver dns, string signed) = SignWith(KeyOf(kind));
        DkimSignatureResult r = await VerifyOne(dns, signed);
        Assert.True(r.Result == DkimResult.Pass, r.ToString());
        Assert.Equal("example.org", r.Domain);
    }

    [Theory]
    [InlineData(DkimCanonicalization.Simple, DkimCanonicalization.Simple)]
    [InlineData(DkimCanonicalization.Simple, DkimCanonicalization.Relaxed)]
    [InlineData(DkimCanonicalization.Relaxed, DkimCanonicalization.Simple)]
    public async Task Every_canonicalisation_round_trips(DkimCanonicalization header, DkimCanonicalization body)
    {
        (InMemoryDnsResolver dns, string signed) = SignWith(Ed.Value, tweak: o => new DkimSignerOptions
        {
            Domain = o.Domain, Selector = o.Selector, Key = o.Key, HeaderCanonicalization = header, BodyCanonicalization = body,
        });
        Assert.Equal(DkimResult.Pass, (await VerifyOne(dns, signed)).Result);
    }

    [Fact]
    public async Task Relaxed_tolerates_whitespace_changes_simple_does_not()
    {
        (InMemoryDnsResolver dns, string signed) = SignWith(Ed.Value);
        string rewhitespaced = signed.Replace("Line one.  ", "Line one.", StringComparison.Ordinal).Replace("Subject: Hello  there", "subject:Hello there", StringComparison.Ordinal);
        Assert.Equal(DkimResult.Pass, (await VerifyOne(dns, rewhitespaced)).Result);

        (dns, signed) = SignWith(Ed.Value, tweak: o => new DkimSignerOptions
        {
            Domain = o.Domain, Selector = o.Selector, Key = o.Key, HeaderCanonicalization = DkimCanonicalization.Simple, BodyCanonicalization = DkimCanonicalization.Simple,
        });
        DkimSignatureResult r = await VerifyOne(dns, signed.Replace("Line one.  ", "Line one.", StringComparison.Ordinal));
        Assert.Equal(DkimResult.Fail, r.Result);
        Assert.Contains("body hash", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Over_signed_header_added_later_breaks_the_signature()
    {
        (InMemoryDnsResolver dns, string signed) = SignWith(Ed.Value);
        int body = signed.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string added = signed[..body] + "\r\nSubject: Buy now" + signed[body..];
        Assert.Equal(DkimResult.Fail, (await VerifyOne(dns, added)).Result);
        // A header field that is neither signed nor over-signed may be added.
        string other = signed[..body] + "\r\nX-Extra: fine" + signed[body..];
        Assert.Equal(DkimResult.Pass, (await VerifyOne(dns, other)).Result);
    }

    [Fact]
    public void Signed_headers_list_counts_occurrences_plus_over_signing()
    {
        string header = new DkimSigner(new DkimSignerOptions { Domain = "example.org", Selector = "sel", Key = Ed.Value, Headers = ["From", "To", "X-A"], OverSignedHeaders = ["From"] })
            .Sign(Encoding.UTF8.GetBytes(Message));
        string h = string.Concat(header.Split("h=")[1].TakeWhile(c => c != ';')).Replace("\r\n\t ", "", StringComparison.Ordinal);
        Assert.Equal("from:from:to", h);
    }

    [Fact]
    public async Task Expired_signature_is_permerror()
    {
        var clock = new FixedClock(DateTimeOffset.UtcNow);
        (InMemoryDnsResolver dns, string signed) = SignWith(Ed.Value, tweak: o => new DkimSignerOptions
        {
            Domain = o.Domain, Selector = o.Selector, Key = o.Key, Expiration = TimeSpan.FromHours(1), TimeProvider = clock,
        });
        Assert.Contains(" x=", signed, StringComparison.Ordinal);
        Assert.Equal(DkimResult.Pass, (await VerifyOne(dns, signed, new DkimVerifierOptions { TimeProvider = clock })).Result);
        var later = new FixedClock(clock.Now + TimeSpan.FromHours(2));
        DkimSignatureResult r = await VerifyOne(dns, signed, new DkimVerifierOptions { TimeProvider = later });
        Assert.Equal(DkimResult.PermError, r.Result);
        Assert.Contains("expired", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Body_length_limit_is_never_better_than_neutral()
    {
        (InMemoryDnsResolver dns, string signed) = SignWith(Ed.Value);
        // Re-sign by hand with l= covering the whole body: still neutral.
        string withL = await ResignWithLength(signed, dns);
        DkimSignatureResult r = await VerifyOne(dns, withL);
        Assert.Equal(DkimResult.Neutral, r.Result);
        Assert.True(r.Valid);
    }

    /// <summary>Builds a signature with l= through the public parser: sign a copy whose tags we control.</summary>
    private static Task<string> ResignWithLength(string signed, InMemoryDnsResolver dns)
    {
        _ = dns;
        // Compute the signature manually with l= using the library's pieces.
        string message = signed[(signed.IndexOf("From:", StringComparison.Ordinal))..];
        byte[] body = Encoding.UTF8.GetBytes(message[(message.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
        byte[] bh = DkimBodyHasher.Hash(DkimCanonicalization.Relaxed, HashAlgorithmName.SHA256, body);
        long len;
        using (var h = new DkimBodyHasher(DkimCanonicalization.Relaxed, HashAlgorithmName.SHA256)) { h.Append(body); h.Finish(); len = h.CanonicalLength; }
        string unsigned = $"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=sel; l={len}; h=from:subject; bh={Convert.ToBase64String(bh)}; b=";
        return Task.FromResult(TestSigning.SignRaw(Ed.Value, unsigned, message));
    }

    [Theory]
    [InlineData("v=DKIM1; k=ed25519; p=", "revoked")]
    [InlineData("v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB", "does not match")]
    [InlineData("v=DKIM1; k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "h=")]
    [InlineData("v=DKIM1; k=ed25519; s=other; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "s=")]
    [InlineData("v=DKIM2; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "version")]
    [InlineData("k=ed25519; v=DKIM1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "version")]
    [InlineData("v=DKIM1; k=dsa; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "key type")]
    [InlineData("v=DKIM1; k=ed25519; p=!!!", "base64")]
    [InlineData("v=DKIM1; k=ed25519", "p=")]
    [InlineData("v=DKIM1; k=ed25519; p=AAAA", "32 bytes")]
    public async Task Unusable_key_records_give_permerror(string record, string reason)
    {
        (InMemoryDnsResolver dns, string signed) = SignWith(Ed.Value, record);
        DkimSignatureResult r = await VerifyOne(dns, signed);
        Assert.Equal(DkimResult.PermError, r.Result);
        Assert.Contains(reason, r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Testing_key_gives_neutral()
    {
        (InMemoryDnsResolver dns, string signed) = SignWith(Ed.Value, Ed.Value.DnsRecordText() + "; t=y");
        DkimSignatureResult r = await VerifyOne(dns, signed);
        Assert.Equal(DkimResult.Neutral, r.Result);
        Assert.True(r.Key!.Testing);
    }

    [Fact]
    public async Task Strict_key_refuses_subdomain_identity()
    {
        (InMemoryDnsResolver dns, string signed) = SignWith(Ed.Value, Ed.Value.DnsRecordText() + "; t=s", o => new DkimSignerOptions
        {
            Domain = o.Domain, Selector = o.Selector, Key = o.Key, Identity = "alice@mail.example.org",
        });
        DkimSignatureResult r = await VerifyOne(dns, signed);
        Assert.Equal(DkimResult.PermError, r.Result);
        Assert.Contains("t=s", r.Reason, StringComparison.Ordinal);
        (dns, signed) = SignWith(Ed.Value, Ed.Value.DnsRecordText() + "; t=s", o => new DkimSignerOptions
        {
            Domain = o.Domain, Selector = o.Selector, Key = o.Key, Identity = "alice@example.org",
        });
        Assert.Equal(DkimResult.Pass, (await VerifyOne(dns, signed)).Result);
    }

    [Fact]
    public async Task Rsa_sha1_is_refused()
    {
        (InMemoryDnsResolver dns, string signed) = SignWith(Rsa.Value);
        DkimSignatureResult r = await VerifyOne(dns, signed.Replace("a=rsa-sha256", "a=rsa-sha1", StringComparison.Ordinal));
        Assert.Equal(DkimResult.PermError, r.Result);
        Assert.Contains("RFC 8301", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rsa_key_under_1024_bits_is_refused()
    {
        using RSA small = RSA.Create(768);
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("sel._domainkey.example.org", "v=DKIM1; p=" + Convert.ToBase64String(small.ExportSubjectPublicKeyInfo()));
        (_, string signed) = SignWith(Rsa.Value);
        DkimSignatureResult r = await VerifyOne(dns, signed);
        Assert.Equal(DkimResult.PermError, r.Result);
        Assert.Contains("too short", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_key_is_permerror_and_dns_failure_temperror()
    {
        (InMemoryDnsResolver dns, string signed) = SignWith(Ed.Value);
        dns.Zone.Remove("sel._domainkey.example.org");
        Assert.Equal(DkimResult.PermError, (await VerifyOne(dns, signed)).Result);
        dns.SetFailure("sel._domainkey.example.org", DnsOutcome.ServFail);
        Assert.Equal(DkimResult.TempError, (await VerifyOne(dns, signed)).Result);
    }

    [Fact]
    public async Task Several_signatures_are_reported_separately()
    {
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt("rsa._domainkey.example.org", Rsa.Value.DnsRecordText());
        dns.Zone.AddTxt("ed._domainkey.example.org", Ed.Value.DnsRecordText());
        byte[] m = Encoding.UTF8.GetBytes(Message);
        string a = new DkimSigner(new DkimSignerOptions { Domain = "example.org", Selector = "rsa", Key = Rsa.Value }).Sign(m);
        string b = new DkimSigner(new DkimSignerOptions { Domain = "example.org", Selector = "ed", Key = Ed.Value, BodyCanonicalization = DkimCanonicalization.Simple }).Sign(m);
        IReadOnlyList<DkimSignatureResult> r = await new DkimVerifier(dns).VerifyAsync(Encoding.UTF8.GetBytes(b + a + Message));
        Assert.Equal(2, r.Count);
        Assert.All(r, x => Assert.Equal(DkimResult.Pass, x.Result));
        Assert.Equal(["ed", "rsa"], r.Select(x => x.Selector));
    }

    [Fact]
    public void Private_keys_round_trip_through_pem()
    {
        foreach (DkimPrivateKey k in new[] { Rsa.Value, Ed.Value })
        {
            using DkimPrivateKey again = DkimPrivateKey.FromPem(k.ToPem());
            Assert.Equal(k.DnsRecordText(), again.DnsRecordText());
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => DkimPrivateKey.GenerateRsa(1024));
    }

    [Fact]
    public async Task Large_body_streams_with_bounded_reads()
    {
        var sb = new StringBuilder(Message[..(Message.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)]);
        var rng = new Random(5);
        while (sb.Length < 1_100_000)
        {
            sb.Append(new string('x', rng.Next(0, 90))).Append(rng.Next(4) == 0 ? "  \t " : " ").Append("word\r\n");
            if (rng.Next(50) == 0) sb.Append("\r\n\r\n");
        }
        string message = sb.ToString();
        (InMemoryDnsResolver dns, string signed) = SignWith(Rsa.Value, message: message);
        using var stream = new ChunkedStream(Encoding.UTF8.GetBytes(signed), 777);
        DkimSignatureResult r = Assert.Single(await new DkimVerifier(dns).VerifyAsync(stream));
        Assert.Equal(DkimResult.Pass, r.Result);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}

/// <summary>A stream that returns at most N bytes per read, to exercise chunk boundaries.</summary>
internal sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data)
{
    public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));

    public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, chunk)]);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
}
