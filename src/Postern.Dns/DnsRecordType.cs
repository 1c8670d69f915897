namespace Postern.Dns;

/// <summary>DNS resource record types (RFC 1035 §3.2.2 and later registrations) that Postern knows by name.</summary>
/// <remarks>Any other 16-bit value is still carried, as an <see cref="UnknownRecord"/>.</remarks>
public enum DnsRecordType : ushort
{
    /// <summary>IPv4 address (RFC 1035).</summary>
    A = 1,
    /// <summary>Authoritative name server (RFC 1035).</summary>
    NS = 2,
    /// <summary>Canonical name alias (RFC 1035).</summary>
    CNAME = 5,
    /// <summary>Start of authority (RFC 1035).</summary>
    SOA = 6,
    /// <summary>Domain name pointer, reverse DNS (RFC 1035).</summary>
    PTR = 12,
    /// <summary>Mail exchanger (RFC 1035).</summary>
    MX = 15,
    /// <summary>Text strings (RFC 1035).</summary>
    TXT = 16,
    /// <summary>IPv6 address (RFC 3596).</summary>
    AAAA = 28,
    /// <summary>Service location (RFC 2782).</summary>
    SRV = 33,
    /// <summary>EDNS0 pseudo-record (RFC 6891).</summary>
    OPT = 41,
    /// <summary>Delegation signer (RFC 4034).</summary>
    DS = 43,
    /// <summary>DNSSEC signature (RFC 4034).</summary>
    RRSIG = 46,
    /// <summary>Authenticated denial of existence (RFC 4034).</summary>
    NSEC = 47,
    /// <summary>DNSSEC public key (RFC 4034).</summary>
    DNSKEY = 48,
    /// <summary>Hashed authenticated denial of existence (RFC 5155).</summary>
    NSEC3 = 50,
    /// <summary>TLS certificate association for DANE (RFC 6698).</summary>
    TLSA = 52,
    /// <summary>Any type, query only (RFC 1035 / RFC 8482).</summary>
    ANY = 255,
    /// <summary>Certification authority authorization (RFC 8659).</summary>
    CAA = 257,
}

/// <summary>DNS classes (RFC 1035 §3.2.4). Only <see cref="IN"/> is used for lookups.</summary>
public enum DnsClass : ushort
{
    /// <summary>The Internet.</summary>
    IN = 1,
    /// <summary>Chaos (used for server identification queries).</summary>
    CH = 3,
    /// <summary>Any class, query only.</summary>
    ANY = 255,
}

/// <summary>Response codes (RFC 1035 §4.1.1, RFC 6895 §2.3), including the extended bits carried in OPT.</summary>
public enum DnsResponseCode : ushort
{
    /// <summary>No error.</summary>
    NoError = 0,
    /// <summary>The server could not interpret the query.</summary>
    FormErr = 1,
    /// <summary>The server failed to complete the query.</summary>
    ServFail = 2,
    /// <summary>The name does not exist.</summary>
    NXDomain = 3,
    /// <summary>The server does not implement this kind of query.</summary>
    NotImp = 4,
    /// <summary>The server refuses to answer.</summary>
    Refused = 5,
    /// <summary>EDNS version not supported (RFC 6891).</summary>
    BadVers = 16,
}
