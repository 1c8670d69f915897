// The static configuration file, postern.conf (YAML). It holds what a server needs before it
// can open its data folder: host name, listeners, TLS, DNS. Domains, accounts, addresses and
// DKIM keys live in the database (DESIGN: "Configuration") and are managed by the CLI.
//
// The classes below are the single source of the file's shape: ConfigLoader binds YAML onto
// them (keys are the kebab-case property names), and ConfigDescriber prints the commented
// reference (`postern config describe`, docs/config.md) from the same [Doc] texts and defaults.
namespace Postern.Config;

/// <summary>Documentation of a configuration class or setting, printed by <c>postern config describe</c>.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Class)]
internal sealed class DocAttribute(string text) : Attribute
{
    public string Text { get; } = text;

    /// <summary>The setting may be left out; its default (or nothing) applies.</summary>
    public bool Optional { get; init; } = true;
}

[Doc("Postern's static configuration. Domains, accounts, addresses, aliases and DKIM keys are not here: they live in the data folder and are managed with `postern config ...` commands.")]
internal sealed class ServerConfig
{
    [Doc("Fully qualified host name of this server: the target of the domains' MX records, the name in SMTP greetings and the name in its TLS certificate.", Optional = false)]
    public string Hostname { get; set; } = "";

    [Doc("Data folder with the databases and message files. A relative path is relative to the folder of this file.")]
    public string DataDir { get; set; } = "data";

    [Doc("Least level of log lines printed: trace, debug, info, warn, error.")]
    public LogLevelSetting LogLevel { get; set; } = LogLevelSetting.Info;

    [Doc("Where the server listens. Each listener has a name of your choice, the IPs to bind, TLS settings and the services it offers.", Optional = false)]
    public Dictionary<string, ListenerConfig> Listeners { get; set; } = [];

    [Doc("DNS resolver settings.")]
    public DnsConfig Dns { get; set; } = new();

    [Doc("Automatic certificates from a certificate authority with ACME (RFC 8555), for listeners whose tls has `acme: true`.")]
    public AcmeConfig Acme { get; set; } = new();

    [Doc("The MTA-STS policy (RFC 8461) that the web listener serves for every domain, and whose id `config dnsrecords` prints.")]
    public MtaStsConfig MtaSts { get; set; } = new();

    [Doc("The outgoing queue: retries, delivery status notifications, sending limits per account (docs/queue.md).")]
    public QueueConfig Queue { get; set; } = new();

    [Doc("Reports Postern sends to other operators: daily TLS reports (RFC 8460) about its outgoing TLS sessions, to the addresses in each recipient domain's _smtp._tls record, and DMARC aggregate reports (RFC 7489) about mail it received, to each sender domain's rua=. Both are DKIM-signed through the queue. Reports other operators send to this server's reporting addresses are kept for received-retention-days. See docs/transport-security.md and docs/sender-authentication.md.")]
    public ReportsConfig Reports { get; set; } = new();

    [Doc("Named ways of sending outgoing mail besides direct delivery to the recipient's MX hosts: a smarthost (your provider's submission service, with a user name and password), a plain relay, or either through a SOCKS5 proxy. The name `direct` is the built-in default; define it here to change it (for example to go through a proxy). See docs/outgoing.md.")]
    public Dictionary<string, TransportConfig> Transports { get; set; } = [];

    [Doc("Which transport sends a message, by sender domain, recipient domain and attempt number. The first route that matches is used; without a match, mail goes directly to the recipient's MX hosts.")]
    public List<RouteConfig> Routes { get; set; } = [];

    [Doc("Which recipient-domain TLS policies outgoing mail obeys (direct delivery). Both are on by default; turn one off only when it cannot work where this server runs, for example behind a resolver that answers TLSA queries with errors. See docs/transport-security.md.")]
    public OutgoingTlsConfig OutgoingTls { get; set; } = new();

    [Doc("The junk filter: incoming mail (from other servers, not your own submissions) that an account's filter scores as junk is delivered into that account's Junk mailbox. Each account's filter learns from its user: messages marked junk or not junk in a mail client ($Junk/$NotJunk), or moved into or out of the Junk mailbox. See docs/junk.md.")]
    public JunkFilterConfig JunkFilter { get; set; } = new();

    [Doc("Seconds that running sessions get to finish when the server stops (SIGTERM or `postern stop`) before they are closed.")]
    public int ShutdownGraceSeconds { get; set; } = 10;
}

internal enum LogLevelSetting { Trace, Debug, Info, Warn, Error }

[Doc("One listener: a set of IPs sharing TLS settings and services.")]
internal sealed class ListenerConfig
{
    [Doc("IP addresses to bind. 0.0.0.0 and :: bind every address.", Optional = false)]
    public List<string> Ips { get; set; } = [];

    [Doc("Host name for this listener's greetings and certificate; the top-level hostname when empty.")]
    public string Hostname { get; set; } = "";

    [Doc("TLS certificates. Without any, TLS services (STARTTLS, IMAPS, submissions) are not offered and passwords are refused off loopback.")]
    public TlsConfig Tls { get; set; } = new();

    [Doc("Incoming mail from other servers (SMTP, RFC 5321), the target of the domains' MX records. Port 25 is what other servers use.")]
    public ServiceConfig Smtp { get; set; } = new() { Port = 25 };

    [Doc("Message submission by your mail clients with STARTTLS (RFC 6409); AUTH only after TLS.")]
    public ServiceConfig Submission { get; set; } = new() { Port = 587 };

    [Doc("Message submission over implicit TLS (RFC 8314), preferred by modern clients.")]
    public ServiceConfig Submissions { get; set; } = new() { Port = 465 };

    [Doc("IMAP with STARTTLS (RFC 9051).")]
    public ServiceConfig Imap { get; set; } = new() { Port = 143 };

    [Doc("IMAP over implicit TLS (RFC 8314).")]
    public ServiceConfig Imaps { get; set; } = new() { Port = 993 };

    [Doc("The web listener over HTTPS (port 443): the MTA-STS policy at https://mta-sts.DOMAIN/.well-known/mta-sts.txt, client autoconfiguration at autoconfig.DOMAIN and autodiscover.DOMAIN, and ACME tls-alpn-01 validations. Uses this listener's tls certificates, chosen by SNI. See docs/web.md.")]
    public ServiceConfig Https { get; set; } = new() { Port = 443 };

    [Doc("The web listener over plain HTTP (port 80): only ACME http-01 validations are answered, everything else is 404.")]
    public ServiceConfig Http { get; set; } = new() { Port = 80 };

    [Doc("Prometheus metrics at http://IP:PORT/metrics (plain HTTP, no password): connections, messages, logins, IMAP commands, queue attempts, sender authentication and junk results, process figures. Enable it only on a listener whose ips are loopback or a private network your Prometheus reaches. See docs/operations.md.")]
    public ServiceConfig Metrics { get; set; } = new() { Port = 8010 };

    [Doc("Most simultaneous connections from one IP address to the IMAP services (SMTP has its own per-IP and per-network limits).")]
    public int MaxConnectionsPerIp { get; set; } = 20;

    [Doc("DNS blocklist zones (RFC 5782), for example zen.spamhaus.org, asked about each client of this listener's smtp service (never submission). A listed client gets 554 5.7.1 with the zone and the list's reason at MAIL FROM. Error answers (127.255.255.x, 127.0.0.1, addresses outside 127/8) and DNS failures are not listings: they are logged and the mail is accepted.")]
    public List<string> Dnsbl { get; set; } = [];
}

[Doc("A service on a listener.")]
internal sealed class ServiceConfig
{
    [Doc("Whether the service runs.")]
    public bool Enabled { get; set; }

    [Doc("TCP port.")]
    public int Port { get; set; }
}

[Doc("TLS settings of a listener.")]
internal sealed class TlsConfig
{
    [Doc("Certificate and key files in PEM format (full chain first). With several, the one whose names match the client's SNI is used. Files are read again when they change.")]
    public List<KeyCertConfig> KeyCerts { get; set; } = [];

    [Doc("Obtain and renew a certificate for this listener's host name with ACME (settings in the acme section), on the stable host key in DATA/hostkeys so that TLSA records stay valid. It is used before key-certs; until it is issued a self-signed certificate on the same key stands in.")]
    public bool Acme { get; set; }

    [Doc("More names for the ACME certificate besides the host name, for example mta-sts.example.com and autoconfig.example.com.")]
    public List<string> AcmeNames { get; set; } = [];
}

[Doc("A certificate with its private key.")]
internal sealed class KeyCertConfig
{
    [Doc("PEM certificate chain, leaf first. Relative to the folder of this file.", Optional = false)]
    public string CertFile { get; set; } = "";

    [Doc("PEM private key (PKCS#8, RSA or EC). Relative to the folder of this file.", Optional = false)]
    public string KeyFile { get; set; } = "";
}

[Doc("DNS resolver settings.")]
internal sealed class DnsConfig
{
    [Doc("Nameservers (IP or IP:port) to ask. Empty: those of /etc/resolv.conf.")]
    public List<string> Nameservers { get; set; } = [];

    [Doc("Nameserver IPs whose DNSSEC verdict (the AD bit) is believed, for DANE and the authentication results. Empty: loopback resolvers only (a validating resolver such as unbound on this machine), except systemd-resolved's 127.0.0.53, which does not validate by default.")]
    public List<string> TrustedNameservers { get; set; } = [];
}

[Doc("ACME settings (RFC 8555). The certificate authority must reach this server on port 443 (tls-alpn-01, RFC 8737) or port 80 (http-01) at the IPs the names resolve to. The account key and certificates are kept in DATA/acme; see docs/certificates.md.")]
internal sealed class AcmeConfig
{
    [Doc("URL of the authority's ACME directory, for example https://acme-v02.api.letsencrypt.org/directory (Let's Encrypt). Required when a listener has `tls.acme: true`.")]
    public string DirectoryUrl { get; set; } = "";

    [Doc("Email address given to the authority for expiry and policy notices.")]
    public string ContactEmail { get; set; } = "";

    [Doc("External Account Binding key identifier (RFC 8555 §7.3.4), for authorities that require one; given with eab-hmac-key.")]
    public string EabKeyId { get; set; } = "";

    [Doc("External Account Binding HMAC key, base64url, as the authority gave it.")]
    public string EabHmacKey { get; set; } = "";

    [Doc("PEM file of root certificates trusted for the connection to the ACME server only (a test authority such as pebble). Empty: the system's trust store. Relative to the folder of this file.")]
    public string TrustedCaFile { get; set; } = "";

    [Doc("Port on which tls-alpn-01 validations arrive (443 as the authority sees it). Postern answers them there on the IPs of the listeners that use ACME. 0: do not use tls-alpn-01.")]
    public int TlsAlpnPort { get; set; } = 443;

    [Doc("Port on which http-01 validations arrive (80 as the authority sees it), answered on the IPs of the listeners that use ACME. 0: do not use http-01. When both are on, tls-alpn-01 is tried first.")]
    public int HttpPort { get; set; } = 80;

    [Doc("Renew a certificate this many days before it ends.")]
    public int RenewDays { get; set; } = 30;

    [Doc("Which stable host key the certificates are for: ecdsa-p256 or rsa2048.")]
    public AcmeKeySetting Key { get; set; } = AcmeKeySetting.EcdsaP256;
}

internal enum AcmeKeySetting { EcdsaP256, Rsa2048 }

[Doc("The outgoing queue (docs/queue.md). The first attempt is made at once; each later one waits twice as long as the one before, starting at first-retry-seconds.")]
internal sealed class QueueConfig
{
    [Doc("Most delivery attempts per recipient domain before the message fails and the sender gets a failure DSN.")]
    public int MaxAttempts { get; set; } = 8;

    [Doc("Seconds before the second attempt; each later wait doubles (with ±10 % jitter). 450 and 8 attempts span about 16 hours.")]
    public int FirstRetrySeconds { get; set; } = 450;

    [Doc("Minutes after which a message still undelivered gets the sender one \"delayed\" DSN (when the recipient's NOTIFY allows).")]
    public int DelayedDsnAfterMinutes { get; set; } = 240;

    [Doc("Days that delivered and failed messages stay in the queue for `postern queue show` before they are removed.")]
    public int RetentionDays { get; set; } = 7;

    [Doc("Most delivery attempts running at once.")]
    public int MaxConcurrentDeliveries { get; set; } = 64;

    [Doc("Most delivery attempts running at once to one recipient domain.")]
    public int MaxConcurrentPerDomain { get; set; } = 8;

    [Doc("Most messages an account may send to remote recipients per day (UTC); 0: no limit.")]
    public int MaxMessagesPerDay { get; set; } = 1000;

    [Doc("Most recipients an account may write to for the first time per day (UTC); 0: no limit.")]
    public int MaxFirstTimeRecipientsPerDay { get; set; } = 200;
}

[Doc("Outgoing TLS and DMARC reports, and how long received ones are kept.")]
internal sealed class ReportsConfig
{
    [Doc("Organisation name in the reports (organization-name, org_name). Empty: the domain of the host name.")]
    public string OrganizationName { get; set; } = "";

    [Doc("From address and envelope sender of report messages, also the reports' contact address. Empty: postmaster@ the domain of the host name (mail.example.com gives postmaster@example.com). Reports are DKIM-signed when the queue has keys for its domain; bounces come back to it.")]
    public string FromAddress { get; set; } = "";

    [Doc("TLS reports (RFC 8460), sent once a day after midnight UTC for the previous day.")]
    public TlsReportsConfig Tls { get; set; } = new();

    [Doc("DMARC aggregate reports (RFC 7489 §7.2), sent per each sender domain's ri= (1 to 24 hours, aligned to UTC days).")]
    public DmarcReportsConfig Dmarc { get; set; } = new();

    [Doc("Days that a report address whose report bounced (5xx, or a DSN saying failed 5.x.x) is not sent to. `postern reports suppression` lists and removes entries.")]
    public int SuppressionDays { get; set; } = 30;

    [Doc("Days that DMARC aggregate and TLS reports received from other organisations (`postern dmarc reports`, `postern tlsrpt reports`) are kept after they arrived; older ones are deleted when the server starts and once a day. 0: keep them forever.")]
    public int ReceivedRetentionDays { get; set; } = 180;
}

[Doc("TLS report settings.")]
internal sealed class TlsReportsConfig
{
    [Doc("Send TLS reports.")]
    public bool Enabled { get; set; } = true;

    [Doc("Only report domains where at least one TLS session failed that day (as most senders do); false: every domain with a TLSRPT record gets a daily report.")]
    public bool OnlyFailures { get; set; } = true;
}

[Doc("DMARC aggregate report settings.")]
internal sealed class DmarcReportsConfig
{
    [Doc("Send DMARC aggregate reports. When off, stored evaluations are kept 7 days for `postern dmarc evaluations`.")]
    public bool Enabled { get; set; } = true;
}

[Doc("A way of sending outgoing mail.")]
internal sealed class TransportConfig
{
    [Doc("direct: to the recipient domain's MX hosts on port 25. smarthost: to one host with AUTH (submission on 587 with STARTTLS, or 465 with implicit TLS). relay: to one host without AUTH.", Optional = false)]
    public TransportType Type { get; set; } = TransportType.Direct;

    [Doc("Host name or IP address of the smarthost or relay.")]
    public string Host { get; set; } = "";

    [Doc("TCP port. 0: 25 for direct and relay, 587 for a smarthost with STARTTLS, 465 with implicit TLS.")]
    public int Port { get; set; }

    [Doc("TLS with a smarthost or relay: starttls (required, certificate verified), implicit (TLS from the first byte, port 465, verified), opportunistic (STARTTLS when offered, unverified accepted) or none. auto: starttls for a smarthost, opportunistic for a relay. Direct delivery ignores this: it uses STARTTLS whenever offered, required and verified where the recipient domain publishes DANE (DNSSEC-signed TLSA records) or an MTA-STS policy in enforce mode (docs/transport-security.md).")]
    public TransportTls Tls { get; set; } = TransportTls.Auto;

    [Doc("PEM file of CA certificates trusted for this host besides the system's (a private CA). Relative to the folder of this file.")]
    public string CaFile { get; set; } = "";

    [Doc("User name for AUTH at a smarthost. SCRAM-SHA-256 is preferred; PLAIN is used only over TLS.")]
    public string Username { get; set; } = "";

    [Doc("File whose first line is the AUTH password (keep it readable by Postern only). Relative to the folder of this file.")]
    public string PasswordFile { get; set; } = "";

    [Doc("SOCKS5 proxy (RFC 1928) to connect through, as host:port, for example 127.0.0.1:1080. Empty: connect directly.")]
    public string Socks5 { get; set; } = "";

    [Doc("User name for the SOCKS5 proxy (RFC 1929), if it wants one.")]
    public string Socks5Username { get; set; } = "";

    [Doc("File whose first line is the SOCKS5 password. Relative to the folder of this file.")]
    public string Socks5PasswordFile { get; set; } = "";
}

internal enum TransportType { Direct, Smarthost, Relay }

internal enum TransportTls { Auto, Starttls, Implicit, Opportunistic, None }

[Doc("The TLS policies of recipient domains that direct delivery enforces.")]
internal sealed class OutgoingTlsConfig
{
    [Doc("DANE (RFC 7672): MX hosts with DNSSEC-signed TLSA records get TLS checked against those records, and mail waits in the queue when that fails. false: TLSA records are not looked up at all, so a broken resolver no longer holds mail back; MTA-STS or opportunistic STARTTLS applies instead.")]
    public bool Dane { get; set; } = true;

    [Doc("MTA-STS (RFC 8461): recipient domains' policies are fetched and enforced (only listed MX hosts, TLS with a valid certificate). false: policies are neither looked up (nor refreshed) nor applied, and no sts results go into TLS reports; DANE or opportunistic STARTTLS applies instead. Cached policies are kept for when it is turned on again.")]
    public bool MtaSts { get; set; } = true;
}

[Doc("Junk filter settings, the same for every account.")]
internal sealed class JunkFilterConfig
{
    [Doc("false: incoming mail is not classified and nothing is trained.")]
    public bool Enabled { get; set; } = true;

    [Doc("Probability of junk (0 to 1) from which a message goes to Junk. Higher: fewer good messages in Junk, more junk in the inbox.")]
    public double Threshold { get; set; } = 0.95;

    [Doc("Messages an account must have marked as junk, and as not junk, before its incoming mail is classified: until then nothing is moved.")]
    public int MinTrained { get; set; } = 20;

    [Doc("Most distinct words kept per account; past it, words seen in only one message are dropped.")]
    public int MaxWords { get; set; } = 1_000_000;
}

[Doc("A route: when a message matches, the transport sends it.")]
internal sealed class RouteConfig
{
    [Doc("Sender domains the route applies to; a leading dot (.example.com) matches subdomains. Empty: any sender.")]
    public List<string> FromDomains { get; set; } = [];

    [Doc("Recipient domains the route applies to; a leading dot matches subdomains. Empty: any recipient.")]
    public List<string> ToDomains { get; set; } = [];

    [Doc("The route applies from this delivery attempt on (1: always). With 3, the first two attempts go elsewhere, for example direct, and later ones through this route's transport.")]
    public int MinimumAttempt { get; set; } = 1;

    [Doc("Name of the transport: one under transports, or direct.", Optional = false)]
    public string Transport { get; set; } = "";
}

[Doc("The MTA-STS policy served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt for each domain (RFC 8461 §3.2). Its mx lines are the host names of the listeners that receive mail (smtp). The _mta-sts TXT record's id is a digest of the policy, so changing a setting here changes the id: publish the new record that `postern config dnsrecords` prints.")]
internal sealed class MtaStsConfig
{
    [Doc("enforce: senders that support MTA-STS deliver only over TLS with a valid certificate for an mx host, and hold the mail otherwise. testing: they deliver anyway and only report failures (TLSRPT). none: withdraws a published policy. The default is enforce because the policy can only be fetched over HTTPS with a valid certificate for mta-sts.DOMAIN, which ACME issues in the same way as the mail host's certificate: by the time senders see the policy, the mail host's certificate is valid too, so testing would protect nothing, and a policy left in testing is never switched over. Use testing while the mail host's certificate is not from a public CA.")]
    public MtaStsModeSetting Mode { get; set; } = MtaStsModeSetting.Enforce;

    [Doc("Seconds senders keep the policy (max_age, at most 31557600). RFC 8461 §3.2 suggests weeks: a long lifetime protects across outages of the policy host; one week is the default.")]
    public int MaxAgeSeconds { get; set; } = 604800;
}

internal enum MtaStsModeSetting { Enforce, Testing, None }
