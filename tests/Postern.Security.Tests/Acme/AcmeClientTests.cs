using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Postern.Security.Acme;
using Postern.Testing;

namespace Postern.Security.Tests.Acme;

public class AcmeJwsTests
{
    [Fact]
    public void Jws_with_jwk_verifies_as_ES256_over_protected_and_payload()
    {
        using var key = AcmeAccountKey.Create();
        byte[] jws = key.Sign("https://ca.example/new-acct", "nonce-1", null, "{\"a\":1}");
        using var doc = JsonDocument.Parse(jws);
        string prot = doc.RootElement.GetProperty("protected").GetString()!;
        string payload = doc.RootElement.GetProperty("payload").GetString()!;
        byte[] sig = Base64Url.Decode(doc.RootElement.GetProperty("signature").GetString()!);
        using var header = JsonDocument.Parse(Base64Url.Decode(prot));
        Assert.Equal("ES256", header.RootElement.GetProperty("alg").GetString());
        Assert.Equal("nonce-1", header.RootElement.GetProperty("nonce").GetString());
        Assert.Equal("https://ca.example/new-acct", header.RootElement.GetProperty("url").GetString());
        var jwk = header.RootElement.GetProperty("jwk");
        using var verifier = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64Url.Decode(jwk.GetProperty("x").GetString()!), Y = Base64Url.Decode(jwk.GetProperty("y").GetString()!) },
        });
        Assert.Equal(64, sig.Length);
        Assert.True(verifier.VerifyData(Encoding.ASCII.GetBytes(prot + "." + payload), sig, HashAlgorithmName.SHA256));
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(Base64Url.Decode(payload)));
    }

    [Fact]
    public void Post_as_get_has_empty_payload_and_kid()
    {
        using var key = AcmeAccountKey.Create();
        using var doc = JsonDocument.Parse(key.Sign("https://ca.example/order/1", "n", "https://ca.example/acct/1", null));
        Assert.Equal("", doc.RootElement.GetProperty("payload").GetString());
        using var header = JsonDocument.Parse(Base64Url.Decode(doc.RootElement.GetProperty("protected").GetString()!));
        Assert.Equal("https://ca.example/acct/1", header.RootElement.GetProperty("kid").GetString());
        Assert.False(header.RootElement.TryGetProperty("jwk", out _));
    }

    [Fact]
    public void External_account_binding_is_HS256_over_the_account_jwk()
    {
        using var key = AcmeAccountKey.Create();
        byte[] mac = RandomNumberGenerator.GetBytes(32);
        using var doc = JsonDocument.Parse(key.ExternalAccountBinding("kid-1", mac, "https://ca.example/new-acct"));
        string prot = doc.RootElement.GetProperty("protected").GetString()!;
        string payload = doc.RootElement.GetProperty("payload").GetString()!;
        Assert.Equal(Base64Url.Encode(HMACSHA256.HashData(mac, Encoding.ASCII.GetBytes(prot + "." + payload))), doc.RootElement.GetProperty("signature").GetString());
        using var header = JsonDocument.Parse(Base64Url.Decode(prot));
        Assert.Equal("HS256", header.RootElement.GetProperty("alg").GetString());
        Assert.Equal("kid-1", header.RootElement.GetProperty("kid").GetString());
        // RFC 7638: the thumbprint is the SHA-256 of the canonical JWK, which is this payload.
        Assert.Equal(key.Thumbprint, Base64Url.Encode(SHA256.HashData(Base64Url.Decode(payload))));
    }

    [Fact]
    public void Problem_document_becomes_a_readable_line()
    {
        var p = AcmeProblem.Parse("""{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"no","status":400,"subproblems":[{"identifier":{"type":"dns","value":"x.test"},"detail":"bad name"}]}"""u8, 0)!;
        Assert.Equal("rejectedIdentifier", p.ShortType);
        Assert.Equal("rejectedIdentifier (400): no [x.test: bad name]", p.ToString());
        Assert.Null(AcmeProblem.Parse("<html>"u8, 500));
    }

    [Fact]
    public void Tls_alpn_certificate_has_critical_acme_identifier_with_digest()
    {
        using var cert = TlsAlpn01ChallengeResponder.CreateValidationCertificate("mail.example.test", "tok.thumb");
        var ext = cert.Extensions[TlsAlpn01ChallengeResponder.AcmeIdentifierOid]!;
        Assert.True(ext.Critical);
        Assert.Equal([0x04, 0x20, .. SHA256.HashData("tok.thumb"u8)], ext.RawData);
        Assert.Contains("mail.example.test", cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames());
    }
}

/// <summary>Issuance against a real pebble on loopback.</summary>
public class AcmeClientPebbleTests
{
    private static AcmeClientOptions Options(PebbleLab lab) => new()
    {
        DirectoryUri = lab.DirectoryUri,
        TrustedRoots = [lab.TrustedRoot],
        PollTimeout = TimeSpan.FromSeconds(60),
    };

    private static async Task<string> IssueAsync(PebbleLab lab, string challengeType, AsymmetricAlgorithm certKey, string name, ExternalAccountBinding? eab = null)
    {
        using var account = AcmeAccountKey.Create();
        using var client = new AcmeClient(Options(lab), account);
        await client.RegisterAccountAsync(["admin@example.test"], eab, CancellationToken.None);
        IAcmeChallengeResponder responder;
        AcmeChallengeListener listener;
        if (challengeType == AcmeChallenge.Http01)
        {
            var r = new Http01ChallengeResponder();
            responder = r;
            listener = new Http01Listener([new IPEndPoint(IPAddress.Loopback, lab.HttpPort)], r);
        }
        else
        {
            var r = new TlsAlpn01ChallengeResponder();
            responder = r;
            listener = new TlsAlpn01Listener([new IPEndPoint(IPAddress.Loopback, lab.TlsPort)], r);
        }
        await using (listener)
        {
            listener.Start();
            return await AcmeIssuance.ObtainAsync(client, [name], certKey, [responder], null, CancellationToken.None);
        }
    }

    private static async Task AssertIssuedByPebbleAsync(PebbleLab lab, string pem, AsymmetricAlgorithm key, string name)
    {
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(pem);
        using var leaf = chain[0];
        using var root = await lab.IssuingRootAsync();
        using var x = new X509Chain();
        x.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        x.ChainPolicy.CustomTrustStore.Add(root);
        x.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        foreach (var c in chain.Skip(1)) x.ChainPolicy.ExtraStore.Add(c);
        Assert.True(x.Build(leaf), string.Join("; ", x.ChainStatus.Select(s => s.StatusInformation)));
        Assert.True(leaf.MatchesHostname(name));
        byte[] spki = key is ECDsa ec ? ec.ExportSubjectPublicKeyInfo() : ((RSA)key).ExportSubjectPublicKeyInfo();
        Assert.Equal(spki, leaf.PublicKey.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public async Task Http01_issues_a_certificate_for_the_given_ecdsa_key()
    {
        await using var lab = await PebbleLab.StartAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string pem = await IssueAsync(lab, AcmeChallenge.Http01, key, "mail.postern.test");
        await AssertIssuedByPebbleAsync(lab, pem, key, "mail.postern.test");
    }

    [Fact]
    public async Task TlsAlpn01_issues_a_certificate_for_the_given_rsa_key()
    {
        await using var lab = await PebbleLab.StartAsync();
        using var key = RSA.Create(2048);
        string pem = await IssueAsync(lab, AcmeChallenge.TlsAlpn01, key, "imap.postern.test");
        await AssertIssuedByPebbleAsync(lab, pem, key, "imap.postern.test");
    }

    [Fact]
    public async Task BadNonce_refusals_are_retried()
    {
        await using var lab = await PebbleLab.StartAsync(nonceRejectPercent: 40);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string pem = await IssueAsync(lab, AcmeChallenge.Http01, key, "nonce.postern.test");
        await AssertIssuedByPebbleAsync(lab, pem, key, "nonce.postern.test");
    }

    [Fact]
    public async Task External_account_binding_required_refused_without_and_accepted_with()
    {
        await using var lab = await PebbleLab.StartAsync(requireEab: true);
        using (var account = AcmeAccountKey.Create())
        using (var client = new AcmeClient(Options(lab), account))
        {
            var e = await Assert.ThrowsAsync<AcmeException>(() => client.RegisterAccountAsync([], null, CancellationToken.None));
            Assert.Contains("External Account Binding", e.Message, StringComparison.Ordinal);
            var wrong = await Assert.ThrowsAsync<AcmeException>(() => client.RegisterAccountAsync([], new ExternalAccountBinding(PebbleLab.EabKeyId, RandomNumberGenerator.GetBytes(48)), CancellationToken.None));
            Assert.Contains("the ACME server refused", wrong.Message, StringComparison.Ordinal);
            Assert.NotNull(wrong.Problem);
        }
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string pem = await IssueAsync(lab, AcmeChallenge.Http01, key, "eab.postern.test", new ExternalAccountBinding(PebbleLab.EabKeyId, Base64Url.Decode(PebbleLab.EabHmacKey)));
        await AssertIssuedByPebbleAsync(lab, pem, key, "eab.postern.test");
    }

    [Fact]
    public async Task Failed_validation_names_the_challenge_and_the_reason()
    {
        await using var lab = await PebbleLab.StartAsync();
        using var account = AcmeAccountKey.Create();
        using var client = new AcmeClient(Options(lab), account);
        await client.RegisterAccountAsync([], null, CancellationToken.None);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // Nothing listens on the http-01 port.
        var e = await Assert.ThrowsAsync<AcmeException>(() => AcmeIssuance.ObtainAsync(client, ["down.postern.test"], key, [new Http01ChallengeResponder()], null, CancellationToken.None));
        Assert.Contains("http-01 validation of down.postern.test failed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_down_and_bad_directory_give_clear_errors()
    {
        await using var lab = await PebbleLab.StartAsync();
        using var account = AcmeAccountKey.Create();
        using (var bad = new AcmeClient(Options(lab) with { DirectoryUri = new Uri($"https://127.0.0.1:{lab.ListenPort}/no-such-directory") }, account))
        {
            var e = await Assert.ThrowsAsync<AcmeException>(() => bad.GetDirectoryAsync(CancellationToken.None));
            Assert.Contains("no-such-directory", e.Message, StringComparison.Ordinal);
        }
        using (var untrusted = new AcmeClient(Options(lab) with { TrustedRoots = [] }, account))
        {
            var e = await Assert.ThrowsAsync<AcmeException>(() => untrusted.GetDirectoryAsync(CancellationToken.None));
            Assert.Contains("cannot reach the ACME server", e.Message, StringComparison.Ordinal);
        }
        lab.StopPebble();
        using var client = new AcmeClient(Options(lab), account);
        var down = await Assert.ThrowsAsync<AcmeException>(() => client.RegisterAccountAsync([], null, CancellationToken.None));
        Assert.Contains($"cannot reach the ACME server at {lab.DirectoryUri}", down.Message, StringComparison.Ordinal);
    }
}
