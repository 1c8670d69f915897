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
// tls-exporter (RFC 9266) needs TLS exporter keying material (RFC 5705, RFC 8446 §7.5). .NET 10
// does not expose it: SslStream has no export API (dotnet/runtime issue #112529, "Export Keying
// Material for TLS sessions", still an open proposal), and the underlying OpenSSL SSL* is held
// in a non-public field, reachable only by reflection into runtime internals, which we refuse to
// depend on. So tls-exporter is never listed as available and -PLUS uses tls-server-end-point.

/// <summary>Channel-binding data of a TLS connection.</summary>
public static class TlsChannelBinding
{
    /// <summary>RFC 5929 channel binding type name.</summary>
    public const string TlsServerEndPoint = "tls-server-end-point";
    /// <summary>RFC 9266 channel binding type name (not available on .NET 10, see file comment).</summary>
    public const string TlsExporter = "tls-exporter";

    /// <summary>Channel binding types available on <paramref name="stream"/>.</summary>
    public static IReadOnlyList<string> AvailableTypes(SslStream stream) =>
        GetServerEndPoint(stream) is null ? [] : [TlsServerEndPoint];

    /// <summary>Channel binding data of <paramref name="type"/> on the stream, or null when unavailable.</summary>
    public static byte[]? Get(SslStream stream, string type) => type switch
    {
        TlsServerEndPoint => GetServerEndPoint(stream),
        _ => null,
    };

    /// <summary>A provider for the SASL server, computed once for the connection.</summary>
    public static IChannelBindingProvider CreateProvider(SslStream stream) => new FixedChannelBinding(GetServerEndPoint(stream));

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

/// <summary>A channel-binding provider over precomputed data (tls-server-end-point only).</summary>
public sealed class FixedChannelBinding : IChannelBindingProvider
{
    private readonly byte[]? _serverEndPoint;

    /// <summary>Creates a provider; null data means no channel binding available.</summary>
    public FixedChannelBinding(byte[]? tlsServerEndPoint)
    {
        _serverEndPoint = tlsServerEndPoint;
        AvailableTypes = tlsServerEndPoint is null ? [] : [TlsChannelBinding.TlsServerEndPoint];
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> AvailableTypes { get; }

    /// <inheritdoc/>
    public byte[]? GetBindingData(string type) => type == TlsChannelBinding.TlsServerEndPoint ? _serverEndPoint : null;
}
