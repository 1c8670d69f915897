using System.Net;
using System.Security.Cryptography.X509Certificates;
using Postern.Smtp.Delivery;
using Postern.Smtp.Protocol;

namespace Postern.Smtp.Server;

/// <summary>What a listener serves.</summary>
public enum SmtpListenerKind
{
    /// <summary>Incoming mail from other servers (port 25): no AUTH, local recipients only.</summary>
    Mx,
    /// <summary>Message submission with STARTTLS (port 587, RFC 6409): AUTH required, only after TLS (except loopback).</summary>
    Submission,
    /// <summary>Message submission over implicit TLS (port 465, RFC 8314).</summary>
    Submissions,
}

/// <summary>One address the server listens on.</summary>
/// <param name="EndPoint">Address and port.</param>
/// <param name="Kind">What the listener serves.</param>
public sealed record SmtpListener(IPEndPoint EndPoint, SmtpListenerKind Kind);

/// <summary>Settings of an <see cref="SmtpServer"/>, handed over by the executable (no configuration file is read here).</summary>
public sealed record SmtpServerOptions
{
    /// <summary>Where to listen.</summary>
    public IReadOnlyList<SmtpListener> Listeners { get; init; } = [];

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

    /// <summary>Whether TLS (STARTTLS, implicit TLS) can be offered.</summary>
    public bool TlsAvailable => Certificate is not null || CertificateSelector is not null || CertificateContextSelector is not null;

    /// <summary>Host name in the greeting, EHLO reply and Received headers.</summary>
    public string HostName { get; init; } = "localhost";

    /// <summary>Input limits.</summary>
    public SmtpLimits Limits { get; init; } = SmtpLimits.Default;

    /// <summary>Connection and message rate limits per IP address and network.</summary>
    public SmtpRateLimits RateLimits { get; init; } = new();

    /// <summary>Most simultaneous connections in total.</summary>
    public int MaxConnections { get; init; } = 20_000;

    /// <summary>Wait for a command (RFC 5321 §4.5.3.2.7: at least 5 minutes).</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Wait for the next block of message data (RFC 5321 §4.5.3.2.6 asks the client for 3 minutes; the server waits longer).</summary>
    public TimeSpan DataTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Directory for messages spilled to disk while they arrive; the system temp directory when null.</summary>
    public string? TempDirectory { get; init; }

    /// <summary>Whether loopback clients may authenticate without TLS (as IMAP allows).</summary>
    public bool AllowPlaintextAuthOnLoopback { get; init; } = true;

    /// <summary>16-byte key that encrypts connection ids in Received headers (see <see cref="ConnectionIdCipher"/>); random per process when null.</summary>
    public byte[]? ConnectionIdKey { get; init; }

    /// <summary>Characters that start a "+tag" in a local part ("+" by default; empty disables tags).</summary>
    public string LocalPartSeparators { get; init; } = "+";

    /// <summary>Maps recipients to accounts; when null, the store's addresses, catch-alls and aliases are used.</summary>
    public IRecipientResolver? RecipientResolver { get; init; }

    /// <summary>Checks of the client on the MX listener (DNS blocklists), at the first MAIL FROM of a connection.</summary>
    public IReadOnlyList<ISmtpClientChecker> ClientCheckers { get; init; } = [];

    /// <summary>Checks run on each complete message before delivery (SPF/DKIM/DMARC will plug in here).</summary>
    public IReadOnlyList<IIncomingMessageChecker> MessageCheckers { get; init; } = [];

    /// <summary>
    /// The outgoing queue for submitted mail to remote recipients (and DSNs). Without one,
    /// submission refuses remote recipients with 550 5.7.0.
    /// </summary>
    public IOutgoingQueue? OutgoingQueue { get; init; }

    /// <summary>Told about each message after its local delivery is committed and the reply sent (incoming reports); null for none.</summary>
    public IDeliveredMessageObserver? DeliveredObserver { get; init; }

    /// <summary>The junk filter for mail from other servers (MX), or null for none.</summary>
    public Postern.Store.Junk.JunkFilter? JunkFilter { get; init; }

    /// <summary>Longest hold a submission client may ask for with FUTURERELEASE (RFC 4865); 7 days by default.</summary>
    public TimeSpan MaxFutureRelease { get; init; } = TimeSpan.FromDays(7);
}
