using Postern.Dns.Wire;

namespace Postern.Dns;

/// <summary>
/// The answer to one question from one source (a server, the cache, an in-memory zone),
/// before CNAME chains are followed.
/// </summary>
public sealed class DnsExchange
{
    /// <summary>Creates an exchange result.</summary>
    public DnsExchange(DnsOutcome outcome, IReadOnlyList<DnsRecord> answers, IReadOnlyList<DnsRecord> authorities, bool authentic,
        IReadOnlyList<ExtendedDnsError>? extendedErrors = null, string? server = null, string? errorDetail = null)
    {
        Outcome = outcome;
        Answers = answers;
        Authorities = authorities;
        Authentic = authentic;
        ExtendedErrors = extendedErrors ?? [];
        Server = server;
        ErrorDetail = errorDetail;
    }

    /// <summary>Success/NoData/NxDomain for answered queries (NoError without records is NoData), otherwise the failure.</summary>
    public DnsOutcome Outcome { get; }

    /// <summary>Answer section.</summary>
    public IReadOnlyList<DnsRecord> Answers { get; }

    /// <summary>Authority section (SOA of negative answers).</summary>
    public IReadOnlyList<DnsRecord> Authorities { get; }

    /// <summary>AD bit from a trusted source.</summary>
    public bool Authentic { get; }

    /// <summary>Extended DNS Errors of the response.</summary>
    public IReadOnlyList<ExtendedDnsError> ExtendedErrors { get; }

    /// <summary>Server that answered.</summary>
    public string? Server { get; }

    /// <summary>Failure detail.</summary>
    public string? ErrorDetail { get; }

    /// <summary>A failure without a response.</summary>
    public static DnsExchange Failure(DnsOutcome outcome, string? server, string? detail, IReadOnlyList<ExtendedDnsError>? ede = null) =>
        new(outcome, [], [], false, ede, server, detail);

    /// <summary>Interprets a response message: RCODE to outcome, AD bit only if <paramref name="trusted"/>.</summary>
    public static DnsExchange FromResponse(DnsMessage response, bool trusted, string? server)
    {
        ArgumentNullException.ThrowIfNull(response);
        DnsOutcome outcome = response.ResponseCode switch
        {
            DnsResponseCode.NoError => response.Answers.Count > 0 ? DnsOutcome.Success : DnsOutcome.NoData,
            DnsResponseCode.NXDomain => DnsOutcome.NxDomain,
            DnsResponseCode.ServFail => DnsOutcome.ServFail,
            DnsResponseCode.Refused => DnsOutcome.Refused,
            DnsResponseCode.FormErr => DnsOutcome.FormatError,
            DnsResponseCode.NotImp => DnsOutcome.NotImplemented,
            _ => DnsOutcome.OtherError,
        };
        IReadOnlyList<ExtendedDnsError> ede = response.Edns?.ExtendedErrors ?? [];
        bool answered = outcome is DnsOutcome.Success or DnsOutcome.NoData or DnsOutcome.NxDomain;
        // RFC 4035 §3.2.3 / RFC 6840 §5.8: the AD bit means something only from a resolver
        // we trust and reach over a trusted path.
        bool authentic = answered && trusted && response.AuthenticData;
        string? detail = answered ? null : "response code " + response.ResponseCode;
        return new DnsExchange(outcome, response.Answers, response.Authorities, authentic, ede, server, detail);
    }
}
