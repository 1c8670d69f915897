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

    [Doc("Most simultaneous connections from one IP address to the IMAP services (SMTP has its own per-IP and per-network limits).")]
    public int MaxConnectionsPerIp { get; set; } = 20;
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
