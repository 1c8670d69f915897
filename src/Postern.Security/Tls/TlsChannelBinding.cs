using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Postern.Security.Sasl;

namespace Postern.Security.Tls;

// Channel binding data (RFC 5056) of an authenticated SslStream, for SCRAM -PLUS.
//
// tls-server-end-point (RFC 5929 §4): hash of the server certificate, computed here from the
// certificate, so it works for TLS 1.2 and 1.3 alike.
//
// tls-exporter (RFC 9266 §2): 32 octets of TLS exporter keying material with the label
// EXPORTER-Channel-Binding, from TlsKeyingMaterial (see there for how it is obtained on .NET 10
// and when it is unavailable). Clients on TLS 1.3 use it by default for SCRAM-*-PLUS.

/// <summary>Channel-binding data of a TLS connection.</summary>
public static class TlsChannelBinding
{
    /// <summary>RFC 5929 channel binding type name.</summary>
    public const string TlsServerEndPoint = "tls-server-end-point";
    /// <summary>RFC 9266 channel binding type name.</summary>
    public const string TlsExporter = "tls-exporter";

    /// <summary>Channel binding types available on <paramref name="stream"/>.</summary>
    public static IReadOnlyList<string> AvailableTypes(SslStream stream) => CreateProvider(stream).AvailableTypes;

    /// <summary>Channel binding data of <paramref name="type"/> on the stream, or null when unavailable.</summary>
    public static byte[]? Get(SslStream stream, string type) => type switch
    {
        TlsServerEndPoint => GetServerEndPoint(stream),
        TlsExporter => TlsKeyingMaterial.ExportChannelBinding(stream),
        _ => null,
    };

    /// <summary>A provider for the SASL server, computed once for the connection.</summary>
    public static IChannelBindingProvider CreateProvider(SslStream stream) =>
        new FixedChannelBinding(GetServerEndPoint(stream), TlsKeyingMaterial.ExportChannelBinding(stream));

    private static byte[]? GetServerEndPoint(SslStream stream)
    {
        if (!stream.IsAuthenticated) return null;
        var cert = stream.IsServer ? stream.LocalCertificate : stream.RemoteCertificate;
        if (cert is null) return null;
        using var c2 = new X509Certificate2(cert);
        return ComputeServerEndPoint(c2);
    }

    /// <summary>
    /// RFC 5929 §4.1: the certificate hashed with its signature's hash algorithm, SHA-256 when that is
    /// MD5 or SHA-1. Null for signature algorithms without a single hash (RSA-PSS parameters, EdDSA).
    /// </summary>
    public static byte[]? ComputeServerEndPoint(X509Certificate2 certificate)
    {
        byte[] der = certificate.RawData;
        return certificate.SignatureAlgorithm.Value switch
        {
            "1.2.840.113549.1.1.4" or "1.2.840.113549.1.1.5" or "1.2.840.10045.4.1" // MD5/SHA-1 RSA, ECDSA-SHA1
                or "1.2.840.113549.1.1.11" or "1.2.840.10045.4.3.2" => SHA256.HashData(der),
            "1.2.840.113549.1.1.12" or "1.2.840.10045.4.3.3" => SHA384.HashData(der),
            "1.2.840.113549.1.1.13" or "1.2.840.10045.4.3.4" => SHA512.HashData(der),
            _ => null,
        };
    }
}

/// <summary>A channel-binding provider over precomputed data.</summary>
public sealed class FixedChannelBinding : IChannelBindingProvider
{
    private readonly byte[]? _serverEndPoint;
    private readonly byte[]? _exporter;

    /// <summary>Creates a provider; null data means that type is not available.</summary>
    public FixedChannelBinding(byte[]? tlsServerEndPoint, byte[]? tlsExporter = null)
    {
        _serverEndPoint = tlsServerEndPoint;
        _exporter = tlsExporter;
        var types = new List<string>(2);
        if (tlsExporter is not null) types.Add(TlsChannelBinding.TlsExporter);
        if (tlsServerEndPoint is not null) types.Add(TlsChannelBinding.TlsServerEndPoint);
        AvailableTypes = types;
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> AvailableTypes { get; }

    /// <inheritdoc/>
    public byte[]? GetBindingData(string type) => type switch
    {
        TlsChannelBinding.TlsServerEndPoint => _serverEndPoint,
        TlsChannelBinding.TlsExporter => _exporter,
        _ => null,
    };
}
