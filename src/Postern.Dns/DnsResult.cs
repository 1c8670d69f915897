using System.Globalization;
using System.Text;

namespace Postern.Dns;

/// <summary>How a lookup ended. See <see cref="DnsOutcomeExtensions.Kind"/> for temporary vs permanent.</summary>
public enum DnsOutcome
{
    /// <summary>Records of the requested type were found.</summary>
    Success,
    /// <summary>The name exists but has no records of the requested type (RFC 2308 §2.2).</summary>
    NoData,
    /// <summary>The name does not exist (RCODE 3, RFC 2308 §2.1).</summary>
    NxDomain,
    /// <summary>The resolver failed (RCODE 2), e.g. DNSSEC validation failed or authorities unreachable.</summary>
    ServFail,
    /// <summary>No response within the timeouts and attempts configured.</summary>
    Timeout,
    /// <summary>The resolver refused the query (RCODE 5).</summary>
    Refused,
    /// <summary>The resolver reported our query as malformed (RCODE 1).</summary>
    FormatError,
    /// <summary>The resolver does not implement the query (RCODE 4).</summary>
    NotImplemented,
    /// <summary>Another response code.</summary>
    OtherError,
    /// <summary>The responses received could not be parsed or did not match the query.</summary>
    MalformedResponse,
    /// <summary>Sending or receiving failed (network unreachable, connection refused...).</summary>
    NetworkError,
    /// <summary>The CNAME chain was longer than allowed or looped.</summary>
    CnameChainTooLong,
    /// <summary>The name given is not a valid domain name.</summary>
    InvalidName,
}

/// <summary>Broad classes of <see cref="DnsOutcome"/>, as SPF/DMARC/DANE need them.</summary>
public enum DnsOutcomeKind
{
    /// <summary>Records found.</summary>
    Success,
    /// <summary>A definitive negative answer (NXDOMAIN or no data).</summary>
    NotFound,
    /// <summary>May succeed if tried later (RFC 7208 "temperror").</summary>
    TemporaryFailure,
    /// <summary>Will not succeed if retried (RFC 7208 "permerror" side).</summary>
    PermanentFailure,
}

/// <summary>Classification helpers for <see cref="DnsOutcome"/>.</summary>
public static class DnsOutcomeExtensions
{
    /// <summary>The broad class of an outcome.</summary>
    public static DnsOutcomeKind Kind(this DnsOutcome outcome) => outcome switch
    {
        DnsOutcome.Success => DnsOutcomeKind.Success,
        DnsOutcome.NoData or DnsOutcome.NxDomain => DnsOutcomeKind.NotFound,
        DnsOutcome.ServFail or DnsOutcome.Timeout or DnsOutcome.Refused or DnsOutcome.OtherError
            or DnsOutcome.MalformedResponse or DnsOutcome.NetworkError => DnsOutcomeKind.TemporaryFailure,
        _ => DnsOutcomeKind.PermanentFailure,
    };

    /// <summary>Whether retrying later may give another answer.</summary>
    public static bool IsTemporary(this DnsOutcome outcome) => outcome.Kind() == DnsOutcomeKind.TemporaryFailure;

    /// <summary>Whether the outcome is an error that retrying will not fix.</summary>
    public static bool IsPermanent(this DnsOutcome outcome) => outcome.Kind() == DnsOutcomeKind.PermanentFailure;
}

/// <summary>The result of a lookup: the records, whether they are DNSSEC-authentic, and how the lookup ended.</summary>
/// <typeparam name="T">Record or value type of the lookup.</typeparam>
public sealed class DnsResult<T>
{
    /// <summary>Creates a result.</summary>
    public DnsResult(string name, DnsRecordType type, DnsOutcome outcome, IReadOnlyList<T> records, bool authentic,
        IReadOnlyList<CnameRecord>? cnameChain = null, IReadOnlyList<ExtendedDnsError>? extendedErrors = null,
        string? server = null, string? errorDetail = null)
    {
        Name = name;
        Type = type;
        Outcome = outcome;
        Records = records;
        Authentic = authentic;
        CnameChain = cnameChain ?? [];
        ExtendedErrors = extendedErrors ?? [];
        Server = server;
        ErrorDetail = errorDetail;
    }

    /// <summary>The name looked up, normalised (A-labels, lower case).</summary>
    public string Name { get; }

    /// <summary>The type looked up.</summary>
    public DnsRecordType Type { get; }

    /// <summary>How the lookup ended.</summary>
    public DnsOutcome Outcome { get; }

    /// <summary>The records (empty unless <see cref="Outcome"/> is <see cref="DnsOutcome.Success"/>).</summary>
    public IReadOnlyList<T> Records { get; }

    /// <summary>
    /// True when every response used had the AD bit set by a resolver the configuration trusts:
    /// the records (or the denial) were DNSSEC-validated. False for unsigned zones and for failures.
    /// </summary>
    public bool Authentic { get; }

    /// <summary>CNAME records followed from <see cref="Name"/> to <see cref="CanonicalName"/>, in order.</summary>
    public IReadOnlyList<CnameRecord> CnameChain { get; }

    /// <summary>The name the records belong to after following CNAMEs.</summary>
    public string CanonicalName => CnameChain.Count == 0 ? Name : CnameChain[^1].Target;

    /// <summary>Extended DNS Errors (RFC 8914) the resolver attached to its responses.</summary>
    public IReadOnlyList<ExtendedDnsError> ExtendedErrors { get; }

    /// <summary>The server that answered last, as "address:port" (null for in-memory resolvers).</summary>
    public string? Server { get; }

    /// <summary>Detail of a failure (network error text, parse error...), or null.</summary>
    public string? ErrorDetail { get; }

    /// <summary>Whether records were found.</summary>
    public bool IsSuccess => Outcome == DnsOutcome.Success;

    /// <summary>The broad class of <see cref="Outcome"/>.</summary>
    public DnsOutcomeKind Kind => Outcome.Kind();

    /// <summary>Whether the failure is temporary (SERVFAIL, timeout, ...).</summary>
    public bool IsTemporaryFailure => Outcome.IsTemporary();

    /// <summary>Whether the answer is a definitive NXDOMAIN or no-data.</summary>
    public bool IsNotFound => Kind == DnsOutcomeKind.NotFound;

    /// <summary>The same result with records converted, e.g. A records to addresses.</summary>
    public DnsResult<TOut> Map<TOut>(Func<T, TOut> convert)
    {
        ArgumentNullException.ThrowIfNull(convert);
        var list = new TOut[Records.Count];
        for (int i = 0; i < list.Length; i++) list[i] = convert(Records[i]);
        return new DnsResult<TOut>(Name, Type, Outcome, list, Authentic, CnameChain, ExtendedErrors, Server, ErrorDetail);
    }

    /// <summary>A one-line description for logs and error messages, with EDE text.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{Name}/{DnsRecord.FormatType(Type)}: ");
        sb.Append(Outcome switch
        {
            DnsOutcome.Success => Records.Count.ToString(CultureInfo.InvariantCulture) + " record(s)",
            DnsOutcome.NoData => "no records of this type",
            DnsOutcome.NxDomain => "name does not exist (NXDOMAIN)",
            DnsOutcome.ServFail => "server failure (SERVFAIL)",
            DnsOutcome.Timeout => "timeout",
            DnsOutcome.Refused => "query refused (REFUSED)",
            DnsOutcome.FormatError => "query rejected as malformed (FORMERR)",
            DnsOutcome.NotImplemented => "query not implemented (NOTIMP)",
            DnsOutcome.MalformedResponse => "malformed response",
            DnsOutcome.NetworkError => "network error",
            DnsOutcome.CnameChainTooLong => "CNAME chain too long or looping",
            DnsOutcome.InvalidName => "invalid domain name",
            _ => "DNS error",
        });
        if (Outcome.IsTemporary()) sb.Append(" (temporary)");
        sb.Append(Authentic ? ", DNSSEC-authentic" : ", not authentic");
        if (Server is not null) sb.Append(", server ").Append(Server);
        if (ErrorDetail is not null) sb.Append(": ").Append(ErrorDetail);
        foreach (ExtendedDnsError e in ExtendedErrors) sb.Append("; ").Append(e);
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => Describe();
}
