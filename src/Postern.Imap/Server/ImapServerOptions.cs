using System.Net;
using System.Security.Cryptography.X509Certificates;
using Postern.Imap.Protocol;

namespace Postern.Imap.Server;

/// <summary>One address the server listens on.</summary>
/// <param name="EndPoint">Address and port.</param>
/// <param name="ImplicitTls">True for IMAPS (TLS from the first byte, RFC 8314); false for plain with STARTTLS.</param>
public sealed record ImapListener(IPEndPoint EndPoint, bool ImplicitTls);

/// <summary>Settings of an <see cref="ImapServer"/>, handed over by the executable (no configuration file is read here).</summary>
public sealed record ImapServerOptions
{
    /// <summary>Where to listen.</summary>
    public IReadOnlyList<ImapListener> Listeners { get; init; } = [];

    /// <summary>Server certificate for STARTTLS and implicit TLS; without one, STARTTLS is not offered.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>
    /// Picks the certificate for the host name the client sent in SNI (null when it sent none); used
    /// instead of <see cref="Certificate"/> when set, so that certificates can change while running.
    /// </summary>
    public Func<string?, X509Certificate2?>? CertificateSelector { get; init; }

    /// <summary>
    /// Like <see cref="CertificateSelector"/>, but the certificate with the intermediates to send
    /// after it (a chain file's); preferred over the other two when set.
    /// </summary>
    public Func<string?, System.Net.Security.SslStreamCertificateContext?>? CertificateContextSelector { get; init; }

    /// <summary>Whether TLS (STARTTLS, IMAPS) can be offered.</summary>
    public bool TlsAvailable => Certificate is not null || CertificateSelector is not null || CertificateContextSelector is not null;

    /// <summary>Host name in the greeting and CRAM-MD5 challenges.</summary>
    public string HostName { get; init; } = "localhost";

    /// <summary>Input limits.</summary>
    public ImapLimits Limits { get; init; } = ImapLimits.Default;

    /// <summary>Most simultaneous connections from one IP address.</summary>
    public int MaxConnectionsPerIp { get; init; } = 20;

    /// <summary>Most simultaneous connections in total.</summary>
    public int MaxConnections { get; init; } = 20_000;

    /// <summary>Idle time before an unauthenticated connection is closed (RFC 9051 §5.4: at least 30 minutes once authenticated).</summary>
    public TimeSpan UnauthenticatedTimeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Idle time before an authenticated connection is closed.</summary>
    public TimeSpan AuthenticatedTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Directory for literals spooled to disk; the system temp directory when null.</summary>
    public string? TempDirectory { get; init; }

    /// <summary>Whether loopback clients may log in without TLS (always true in practice; plaintext elsewhere gets LOGINDISABLED).</summary>
    public bool AllowPlaintextAuthOnLoopback { get; init; } = true;
}
