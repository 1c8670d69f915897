using System.Net;
using System.Security.Cryptography.X509Certificates;
using Postern.Security.Acme;
using Postern.Security.MtaSts;

namespace Postern.Web;

/// <summary>The mail services a client is told about by autoconfiguration; a null port is a service that is not offered.</summary>
/// <param name="HostName">The host name clients connect to (the name in the certificate).</param>
/// <param name="ImapsPort">IMAP over implicit TLS (RFC 8314).</param>
/// <param name="ImapPort">IMAP with STARTTLS.</param>
/// <param name="SubmissionsPort">Submission over implicit TLS (RFC 8314).</param>
/// <param name="SubmissionPort">Submission with STARTTLS (RFC 6409).</param>
public sealed record MailClientSettings(string HostName, int? ImapsPort, int? ImapPort, int? SubmissionsPort, int? SubmissionPort);

/// <summary>What the web listener serves: the MTA-STS policy and client settings of the local mail domains.</summary>
public sealed record MailSiteContent
{
    /// <summary>Whether a domain (A-labels, lower case) is one of this server's mail domains; asked per request, so domains added later are served at once.</summary>
    public required Func<string, CancellationToken, ValueTask<bool>> IsLocalDomain { get; init; }

    /// <summary>The MTA-STS policy served for every local domain (RFC 8461 §3.2), or null to serve none.</summary>
    public MtaStsPolicy? MtaStsPolicy { get; init; }

    /// <summary>Settings for client autoconfiguration, or null to serve none.</summary>
    public MailClientSettings? ClientSettings { get; init; }

    /// <summary>Host names of this server itself (the mail host name): autoconfiguration asked there takes the domain from the email address.</summary>
    public IReadOnlyList<string> ServerHostNames { get; init; } = [];
}

/// <summary>Options of a <see cref="WebServer"/>.</summary>
public sealed record WebServerOptions
{
    /// <summary>HTTPS endpoints (usually port 443).</summary>
    public IReadOnlyList<IPEndPoint> HttpsEndPoints { get; init; } = [];

    /// <summary>Plain HTTP endpoints (usually port 80): only ACME http-01 answers are served there.</summary>
    public IReadOnlyList<IPEndPoint> HttpEndPoints { get; init; } = [];

    /// <summary>Plain HTTP endpoints that serve only GET /metrics from <see cref="Metrics"/> (meant for private addresses).</summary>
    public IReadOnlyList<IPEndPoint> MetricsEndPoints { get; init; } = [];

    /// <summary>The metrics served on <see cref="MetricsEndPoints"/>.</summary>
    public PrometheusExporter? Metrics { get; init; }

    /// <summary>The certificate for a TLS server name (SNI, null when the client sent none). Required with HTTPS endpoints.</summary>
    public Func<string?, X509Certificate2>? CertificateSelector { get; init; }

    /// <summary>
    /// The certificate with its intermediates for a TLS server name; when set it is used instead of
    /// <see cref="CertificateSelector"/>, so that clients get the whole chain (an ACME certificate's
    /// issuer is an intermediate that clients do not have).
    /// </summary>
    public Func<string?, System.Net.Security.SslStreamCertificateContext>? CertificateContextSelector { get; init; }

    /// <summary>ACME http-01 answers (RFC 8555 §8.3), or null.</summary>
    public Http01ChallengeResponder? Http01 { get; init; }

    /// <summary>ACME tls-alpn-01 answers on the HTTPS endpoints (RFC 8737), or null.</summary>
    public TlsAlpn01ChallengeResponder? TlsAlpn01 { get; init; }

    /// <summary>What is served over HTTPS.</summary>
    public required MailSiteContent Content { get; init; }

    /// <summary>Most connections open at once over all endpoints; more wait in the kernel's backlog.</summary>
    public int MaxConnections { get; init; } = 1000;

    /// <summary>Time a client has to send a request's headers (and a TLS handshake).</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
