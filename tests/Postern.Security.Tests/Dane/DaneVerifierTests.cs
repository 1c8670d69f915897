using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Postern.Dns;
using Postern.Security.Dane;

namespace Postern.Security.Tests.Dane;

public class DaneVerifierTests
{
    private static readonly TestChain Chain = TestChain.Create();
    private static readonly string[] Names = ["mx.example.org"];
    private static DateTimeOffset Now => DateTimeOffset.UtcNow;

    private static TlsaRecord Record(byte usage, byte selector, byte matching, X509Certificate2 cert) =>
        new("_25._tcp.mx.example.org", 300, usage, selector, matching, DaneVerifier.AssociationData(cert, selector, matching));

    private static DaneResult Verify(TlsaRecord r, params X509Certificate2[] presented) => DaneVerifier.Verify([r], presented, Names, Now);

    [Theory]
    [InlineData(0, 0)]
    [InlineData(0, 1)]
    [InlineData(0, 2)]
    [InlineData(1, 0)]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    public void Dane_ee_matches_the_leaf_by_every_selector_and_matching_type(byte selector, byte matching)
    {
        DaneResult r = Verify(Record(3, selector, matching, Chain.Leaf), Chain.Leaf);
        Assert.Equal(DaneStatus.Verified, r.Status);
        Assert.Equal(DaneStatus.Failed, Verify(Record(3, selector, matching, Chain.Intermediate2), Chain.Leaf).Status);
    }

    [Fact]
    public void Dane_ee_ignores_names_and_expiry()
    {
        // RFC 7672 §3.1.1: with DANE-EE the name and dates are not checked.
        var expired = TestChain.Create("other.example", leafNotAfter: DateTimeOffset.UtcNow.AddDays(-1));
        Assert.True(Verify(Record(3, 1, 1, expired.Leaf), expired.Leaf).Verified);
    }

    [Fact]
    public void Pkix_usages_and_bad_digests_are_unusable()
    {
        var pkix = new[] { Record(0, 0, 1, Chain.Root), Record(1, 1, 1, Chain.Leaf) };
        Assert.Equal(DaneStatus.NoUsableRecords, DaneVerifier.Verify(pkix, [Chain.Leaf], Names, Now).Status);
        var shortDigest = new TlsaRecord("x", 1, 3, 1, 1, new byte[31]);
        var badMatching = new TlsaRecord("x", 1, 3, 1, 3, new byte[32]);
        var badSelector = new TlsaRecord("x", 1, 3, 2, 1, new byte[32]);
        Assert.Equal(DaneStatus.NoUsableRecords, DaneVerifier.Verify([shortDigest, badMatching, badSelector], [Chain.Leaf], Names, Now).Status);
        // One usable record among unusable ones decides.
        Assert.True(DaneVerifier.Verify([shortDigest, Record(3, 1, 1, Chain.Leaf)], [Chain.Leaf], Names, Now).Verified);
        Assert.Equal(DaneStatus.Failed, DaneVerifier.Verify([shortDigest, Record(3, 1, 1, Chain.Root)], [Chain.Leaf], Names, Now).Status);
    }

    [Fact]
    public void Dane_ta_builds_the_chain_through_every_intermediate_in_any_order()
    {
        TlsaRecord ta = Record(2, 0, 1, Chain.Intermediate1);
        Assert.True(Verify(ta, Chain.Leaf, Chain.Intermediate2, Chain.Intermediate1).Verified);
        // Sent in the wrong order, and with an unrelated certificate in between.
        Assert.True(Verify(ta, Chain.Leaf, Chain.Intermediate1, TestChain.Create().Intermediate2, Chain.Intermediate2).Verified);
        // The anchor's issuer sent too: the chain stops at the anchor.
        Assert.True(Verify(Record(2, 1, 1, Chain.Intermediate2), Chain.Leaf, Chain.Intermediate2, Chain.Intermediate1, Chain.Root).Verified);
        Assert.True(Verify(Record(2, 1, 2, Chain.Root), Chain.Leaf, Chain.Intermediate2, Chain.Intermediate1, Chain.Root).Verified);
    }

    [Fact]
    public void Dane_ta_fails_without_the_intermediate_or_the_anchor()
    {
        TlsaRecord ta = Record(2, 0, 1, Chain.Intermediate1);
        DaneResult missing = Verify(ta, Chain.Leaf, Chain.Intermediate1);
        Assert.Equal(DaneStatus.Failed, missing.Status);
        Assert.Contains("trust anchor", missing.Detail, StringComparison.Ordinal);
        // A digest of an anchor that was not sent cannot be checked (RFC 7671 §5.2.2).
        Assert.False(Verify(Record(2, 0, 1, Chain.Root), Chain.Leaf, Chain.Intermediate2, Chain.Intermediate1).Verified);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Dane_ta_published_in_full_anchors_a_chain_without_being_sent(byte selector)
    {
        Assert.True(Verify(Record(2, selector, 0, Chain.Root), Chain.Leaf, Chain.Intermediate2, Chain.Intermediate1).Verified);
        Assert.False(Verify(Record(2, selector, 0, TestChain.Create().Root), Chain.Leaf, Chain.Intermediate2, Chain.Intermediate1).Verified);
    }

    [Fact]
    public void Dane_ta_checks_names_dates_ca_flags_and_signatures()
    {
        TlsaRecord ta = Record(2, 0, 1, Chain.Intermediate1);
        Assert.False(DaneVerifier.Verify([ta], [Chain.Leaf, Chain.Intermediate2, Chain.Intermediate1], ["mx.other.example"], Now).Verified);
        // The next-hop domain as an extra reference name (RFC 7672 §3.2.3).
        Assert.True(DaneVerifier.Verify([ta], [Chain.Leaf, Chain.Intermediate2, Chain.Intermediate1], ["example.org", "mx.example.org"], Now).Verified);

        Assert.False(DaneVerifier.Verify([ta], [Chain.Leaf, Chain.Intermediate2, Chain.Intermediate1], Names, Now.AddYears(3)).Verified);

        var notCa = TestChain.Create(intermediate2IsCa: false);
        Assert.Contains("not a CA", Verify(Record(2, 0, 1, notCa.Intermediate1), notCa.Leaf, notCa.Intermediate2, notCa.Intermediate1).Detail, StringComparison.Ordinal);

        // An impostor intermediate with the right name but another key does not link the chain.
        var other = TestChain.Create();
        Assert.False(Verify(ta, Chain.Leaf, other.Intermediate2, Chain.Intermediate1).Verified);
    }

    [Fact]
    public void Wildcards_match_only_the_leftmost_label()
    {
        var wild = TestChain.Create("*.example.org");
        Assert.True(DaneVerifier.MatchesName(wild.Leaf, "mx.example.org"));
        Assert.True(DaneVerifier.MatchesName(wild.Leaf, "MX.Example.Org."));
        Assert.False(DaneVerifier.MatchesName(wild.Leaf, "a.mx.example.org"));
        Assert.False(DaneVerifier.MatchesName(wild.Leaf, "example.org"));
    }

    [Fact]
    public void Rsa_pkcs1_and_pss_and_ecdsa_signatures_verify()
    {
        foreach (var (factory, padding) in new (Func<AsymmetricAlgorithm>, RSASignaturePadding?)[]
                 {
                     (() => RSA.Create(2048), RSASignaturePadding.Pkcs1),
                     (() => RSA.Create(2048), RSASignaturePadding.Pss),
                     (() => ECDsa.Create(ECCurve.NamedCurves.nistP384), null),
                 })
        {
            var c = TestChain.Create(keyFactory: factory, rsaPadding: padding);
            Assert.True(CertificateSignature.IsSignedBy(c.Leaf, c.Intermediate2));
            Assert.True(CertificateSignature.IsSignedBy(c.Intermediate1, c.Root));
            Assert.False(CertificateSignature.IsSignedBy(c.Leaf, c.Root));
            Assert.True(Verify(Record(2, 1, 1, c.Root), c.Leaf, c.Intermediate2, c.Intermediate1, c.Root).Verified);
        }
    }

    [Fact]
    public void Garbage_certificates_and_records_never_throw()
    {
        var garbage = new TlsaRecord("x", 1, 2, 0, 0, [0x30, 0x03, 0x02, 0x01]);
        Assert.False(DaneVerifier.Verify([garbage], [Chain.Leaf, Chain.Intermediate2], Names, Now).Verified);
        Assert.Equal(DaneStatus.Failed, DaneVerifier.Verify([Record(3, 1, 1, Chain.Leaf)], [], Names, Now).Status);
    }
}
