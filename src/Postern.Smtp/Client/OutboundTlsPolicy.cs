// The TLS decision of the SMTP client is one policy step, consulted once per host before
// connecting. Today: opportunistic STARTTLS with the certificate checked against the system CA
// store (recorded, not enforced), or TLS required (smarthosts). MTA-STS (a per-domain policy
// that requires TLS and MX names matching the policy's patterns) and DANE (TLSA records,
// verified only when DNSSEC-authentic) are further implementations of IOutboundTlsPolicy that
// return a Required decision with their own certificate verifier; REQUIRETLS (RFC 8689) is a
// policy that turns any decision into Required with verification.
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Postern.Smtp.Client;

/// <summary>Whether TLS is used with a host.</summary>
public enum OutboundTlsMode
{
    /// <summary>Plain text; STARTTLS is not attempted.</summary>
    None,
    /// <summary>STARTTLS when offered; a failed handshake is retried in plain text and an unverified certificate is accepted (RFC 3207 §4, RFC 7435).</summary>
    Opportunistic,
    /// <summary>STARTTLS (or implicit TLS) with a verified certificate, or no delivery to this host.</summary>
    Required,
}

/// <summary>What the policy knows when it decides for one host.</summary>
/// <param name="RecipientDomain">The domain mail is for.</param>
/// <param name="Host">The host about to be contacted (an MX name, smarthost or relay).</param>
/// <param name="Port">Its port.</param>
/// <param name="HostAuthentic">The MX and address lookups were DNSSEC-authentic (DANE needs this).</param>
/// <param name="RequireTlsRequested">The message carries REQUIRETLS (RFC 8689).</param>
public sealed record OutboundTlsContext(string RecipientDomain, string Host, int Port, bool HostAuthentic, bool RequireTlsRequested);

/// <summary>Checks a peer's certificate for one policy.</summary>
public interface IServerCertificateVerifier
{
    /// <summary>Null when the certificate is acceptable, or why not.</summary>
    string? Verify(string host, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors);
}

/// <summary>The decision of a policy for one host.</summary>
/// <param name="Mode">None, opportunistic or required.</param>
/// <param name="Policy">Name recorded in <see cref="TlsOutcome.Policy"/> (e.g. <c>opportunistic</c>, <c>smarthost</c>; later <c>mta-sts</c>, <c>dane</c>).</param>
/// <param name="Verifier">How the certificate is checked.</param>
/// <param name="ServerName">
/// The name sent as SNI, when it is not the host name: with DANE the TLSA base domain, which differs from the MX host
/// name when that is a CNAME (RFC 7672 §8.1). Null: the host name.
/// </param>
public sealed record OutboundTlsDecision(OutboundTlsMode Mode, string Policy, IServerCertificateVerifier Verifier, string? ServerName = null);

/// <summary>Decides, per host, whether and how TLS is used.</summary>
public interface IOutboundTlsPolicy
{
    /// <summary>The decision for one host.</summary>
    ValueTask<OutboundTlsDecision> DecideAsync(OutboundTlsContext context, CancellationToken cancellationToken);
}

/// <summary>The system CA store and the host name (RFC 6125): what .NET's own validation says, optionally with extra trusted roots.</summary>
public sealed class SystemCaVerifier : IServerCertificateVerifier
{
    private readonly X509Certificate2Collection? _extraRoots;

    /// <summary>Creates a verifier; <paramref name="extraRoots"/> are trusted in addition to the system store (a private CA, tests).</summary>
    public SystemCaVerifier(X509Certificate2Collection? extraRoots = null) => _extraRoots = extraRoots is { Count: > 0 } ? extraRoots : null;

    /// <summary>The verifier with the system store only.</summary>
    public static SystemCaVerifier Instance { get; } = new();

    /// <inheritdoc/>
    public string? Verify(string host, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null) return "no certificate";
        if (errors == SslPolicyErrors.None) return null;
        if (_extraRoots is not null && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None)
        {
            // Name matched; build the chain again against the extra roots only.
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(_extraRoots);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            // The intermediates the server sent (RFC 5246 §7.4.2), as the system's own validation used them.
            if (chain is not null) custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
            using var leaf = new X509Certificate2(certificate);
            if (custom.Build(leaf)) return null;
            return "certificate not issued by a trusted CA: " + string.Join("; ", custom.ChainStatus.Select(s => s.StatusInformation.Trim()));
        }
        var problems = new List<string>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) problems.Add("certificate does not match host name " + host);
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
            problems.Add("certificate chain not trusted" + (chain is null ? "" : ": " + string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct())));
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) problems.Add("no certificate");
        return string.Join(", ", problems);
    }
}

/// <summary>
/// The default policy for direct delivery: STARTTLS whenever offered, the certificate checked
/// against the system CA store and recorded, delivery in any case (RFC 7435 opportunistic security).
/// </summary>
public sealed class OpportunisticTlsPolicy(IServerCertificateVerifier? verifier = null) : IOutboundTlsPolicy
{
    private readonly OutboundTlsDecision _decision = new(OutboundTlsMode.Opportunistic, "opportunistic", verifier ?? SystemCaVerifier.Instance);

    /// <inheritdoc/>
    public ValueTask<OutboundTlsDecision> DecideAsync(OutboundTlsContext context, CancellationToken cancellationToken) => ValueTask.FromResult(_decision);
}

/// <summary>The same decision for every host (smarthosts, relays, tests).</summary>
public sealed class FixedTlsPolicy(OutboundTlsDecision decision) : IOutboundTlsPolicy
{
    /// <inheritdoc/>
    public ValueTask<OutboundTlsDecision> DecideAsync(OutboundTlsContext context, CancellationToken cancellationToken) => ValueTask.FromResult(decision);
}
