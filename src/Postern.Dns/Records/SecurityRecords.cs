using System.Globalization;
using Postern.Dns.Wire;

namespace Postern.Dns;

/// <summary>A DANE TLS certificate association (RFC 6698 §2.1).</summary>
public sealed class TlsaRecord : DnsRecord
{
    /// <summary>Creates a TLSA record.</summary>
    public TlsaRecord(string name, uint ttl, byte usage, byte selector, byte matchingType, byte[] associationData) : base(name, DnsRecordType.TLSA, ttl)
    {
        ArgumentNullException.ThrowIfNull(associationData);
        Usage = usage;
        Selector = selector;
        MatchingType = matchingType;
        AssociationData = associationData;
    }

    /// <summary>Certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.</summary>
    public byte Usage { get; }

    /// <summary>Selector: 0 full certificate, 1 SubjectPublicKeyInfo.</summary>
    public byte Selector { get; }

    /// <summary>Matching type: 0 exact, 1 SHA-256, 2 SHA-512.</summary>
    public byte MatchingType { get; }

    /// <summary>The certificate association data.</summary>
    public byte[] AssociationData { get; }

    /// <inheritdoc/>
    public override string FormatData() =>
        string.Create(CultureInfo.InvariantCulture, $"{Usage} {Selector} {MatchingType} {Convert.ToHexStringLower(AssociationData)}");

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new TlsaRecord(Name, ttl, Usage, Selector, MatchingType, AssociationData);

    internal override void WriteData(DnsWireWriter writer)
    {
        writer.WriteByte(Usage);
        writer.WriteByte(Selector);
        writer.WriteByte(MatchingType);
        writer.WriteBytes(AssociationData);
    }
}

/// <summary>A delegation signer (RFC 4034 §5.1).</summary>
public sealed class DsRecord : DnsRecord
{
    /// <summary>Creates a DS record.</summary>
    public DsRecord(string name, uint ttl, ushort keyTag, byte algorithm, byte digestType, byte[] digest) : base(name, DnsRecordType.DS, ttl)
    {
        ArgumentNullException.ThrowIfNull(digest);
        KeyTag = keyTag;
        Algorithm = algorithm;
        DigestType = digestType;
        Digest = digest;
    }

    /// <summary>Key tag of the referenced DNSKEY.</summary>
    public ushort KeyTag { get; }

    /// <summary>DNSSEC algorithm number.</summary>
    public byte Algorithm { get; }

    /// <summary>Digest algorithm number.</summary>
    public byte DigestType { get; }

    /// <summary>Digest of the DNSKEY.</summary>
    public byte[] Digest { get; }

    /// <inheritdoc/>
    public override string FormatData() =>
        string.Create(CultureInfo.InvariantCulture, $"{KeyTag} {Algorithm} {DigestType} {Convert.ToHexStringLower(Digest)}");

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new DsRecord(Name, ttl, KeyTag, Algorithm, DigestType, Digest);

    internal override void WriteData(DnsWireWriter writer)
    {
        writer.WriteUInt16(KeyTag);
        writer.WriteByte(Algorithm);
        writer.WriteByte(DigestType);
        writer.WriteBytes(Digest);
    }
}

/// <summary>A DNSSEC public key (RFC 4034 §2.1).</summary>
public sealed class DnskeyRecord : DnsRecord
{
    /// <summary>Creates a DNSKEY record.</summary>
    public DnskeyRecord(string name, uint ttl, ushort flags, byte protocol, byte algorithm, byte[] publicKey) : base(name, DnsRecordType.DNSKEY, ttl)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        Flags = flags;
        Protocol = protocol;
        Algorithm = algorithm;
        PublicKey = publicKey;
    }

    /// <summary>Flags: 256 zone key, 257 zone key + secure entry point.</summary>
    public ushort Flags { get; }

    /// <summary>Always 3 (RFC 4034 §2.1.2).</summary>
    public byte Protocol { get; }

    /// <summary>DNSSEC algorithm number.</summary>
    public byte Algorithm { get; }

    /// <summary>The public key material.</summary>
    public byte[] PublicKey { get; }

    /// <inheritdoc/>
    public override string FormatData() =>
        string.Create(CultureInfo.InvariantCulture, $"{Flags} {Protocol} {Algorithm} {Convert.ToBase64String(PublicKey)}");

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new DnskeyRecord(Name, ttl, Flags, Protocol, Algorithm, PublicKey);

    internal override void WriteData(DnsWireWriter writer)
    {
        writer.WriteUInt16(Flags);
        writer.WriteByte(Protocol);
        writer.WriteByte(Algorithm);
        writer.WriteBytes(PublicKey);
    }
}

/// <summary>A DNSSEC signature over an RRset (RFC 4034 §3.1).</summary>
public sealed class RrsigRecord : DnsRecord
{
    /// <summary>Creates an RRSIG record.</summary>
    public RrsigRecord(string name, uint ttl, DnsRecordType typeCovered, byte algorithm, byte labels, uint originalTtl,
        uint expiration, uint inception, ushort keyTag, string signerName, byte[] signature) : base(name, DnsRecordType.RRSIG, ttl)
    {
        ArgumentNullException.ThrowIfNull(signerName);
        ArgumentNullException.ThrowIfNull(signature);
        TypeCovered = typeCovered;
        Algorithm = algorithm;
        Labels = labels;
        OriginalTtl = originalTtl;
        Expiration = expiration;
        Inception = inception;
        KeyTag = keyTag;
        SignerName = signerName.Length > 1 && signerName.EndsWith('.') ? signerName[..^1] : signerName;
        Signature = signature;
    }

    /// <summary>Type of the RRset signed.</summary>
    public DnsRecordType TypeCovered { get; }

    /// <summary>DNSSEC algorithm number.</summary>
    public byte Algorithm { get; }

    /// <summary>Label count of the original owner name (wildcard detection).</summary>
    public byte Labels { get; }

    /// <summary>TTL of the RRset as signed.</summary>
    public uint OriginalTtl { get; }

    /// <summary>Signature expiration, seconds since 1970 (serial arithmetic, RFC 4034 §3.1.5).</summary>
    public uint Expiration { get; }

    /// <summary>Signature inception, seconds since 1970.</summary>
    public uint Inception { get; }

    /// <summary>Key tag of the signing DNSKEY.</summary>
    public ushort KeyTag { get; }

    /// <summary>Zone that signed.</summary>
    public string SignerName { get; }

    /// <summary>The signature.</summary>
    public byte[] Signature { get; }

    /// <inheritdoc/>
    public override string FormatData() => string.Create(CultureInfo.InvariantCulture,
        $"{FormatType(TypeCovered)} {Algorithm} {Labels} {OriginalTtl} {FormatTime(Expiration)} {FormatTime(Inception)} {KeyTag} {FormatName(SignerName)} {Convert.ToBase64String(Signature)}");

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) =>
        new RrsigRecord(Name, ttl, TypeCovered, Algorithm, Labels, OriginalTtl, Expiration, Inception, KeyTag, SignerName, Signature);

    internal override void WriteData(DnsWireWriter writer)
    {
        writer.WriteUInt16((ushort)TypeCovered);
        writer.WriteByte(Algorithm);
        writer.WriteByte(Labels);
        writer.WriteUInt32(OriginalTtl);
        writer.WriteUInt32(Expiration);
        writer.WriteUInt32(Inception);
        writer.WriteUInt16(KeyTag);
        writer.WriteName(SignerName, compress: false); // RFC 4034 §3.1.7: no compression.
        writer.WriteBytes(Signature);
    }

    private static string FormatTime(uint t) =>
        DateTimeOffset.FromUnixTimeSeconds(t).UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
}
