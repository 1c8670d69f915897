using Postern.Dns.Wire;

namespace Postern.Dns;

/// <summary>
/// A resolver answering from a <see cref="DnsZone"/>, for tests of code that uses DNS
/// (SPF, DKIM, DMARC, DANE...). Answers can be marked DNSSEC-authentic per name, and
/// failures (SERVFAIL, timeout, ...) simulated per name.
/// </summary>
/// <example><code>
/// var dns = new InMemoryDnsResolver();
/// dns.Zone.AddTxt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
/// dns.SetAuthentic("example.com");
/// dns.SetFailure("broken.example", DnsOutcome.ServFail);
/// </code></example>
public sealed class InMemoryDnsResolver : DnsResolverBase
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, bool> _authentic = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<(string, DnsRecordType?), (DnsOutcome, ExtendedDnsError?)> _failures = [];
    private readonly List<DnsQuestion> _queries = [];

    /// <summary>Creates a resolver over a zone (a new empty one if none is given).</summary>
    public InMemoryDnsResolver(DnsZone? zone = null, int maxCnameChain = DefaultMaxCnameChain) : base(maxCnameChain) =>
        Zone = zone ?? new DnsZone();

    /// <summary>The records answered from.</summary>
    public DnsZone Zone { get; }

    /// <summary>Whether answers are authentic for names not covered by <see cref="SetAuthentic"/>. Default false.</summary>
    public bool AuthenticByDefault { get; set; }

    /// <summary>
    /// As a validating resolver: an answer that follows CNAMEs is authentic only when the query name and every CNAME
    /// target in it are (RFC 4035 §4.3; RFC 7672 §2.1.3). Default false: the query name alone decides.
    /// </summary>
    public bool AuthenticCoversCnameTargets { get; set; }

    /// <summary>Marks answers for <paramref name="name"/> and the names below it as authentic (or not).</summary>
    public void SetAuthentic(string name, bool authentic = true)
    {
        lock (_lock) _authentic[DnsName.Normalize(name)] = authentic;
    }

    /// <summary>Makes queries for <paramref name="name"/> (and <paramref name="type"/>, or every type) fail.</summary>
    public void SetFailure(string name, DnsOutcome outcome, DnsRecordType? type = null, ExtendedDnsError? extendedError = null)
    {
        if (outcome is DnsOutcome.Success or DnsOutcome.NoData or DnsOutcome.NxDomain)
            throw new ArgumentException("use the zone's records for answers; failures are errors only", nameof(outcome));
        lock (_lock) _failures[(DnsName.Normalize(name), type)] = (outcome, extendedError);
    }

    /// <summary>Removes all simulated failures.</summary>
    public void ClearFailures()
    {
        lock (_lock) _failures.Clear();
    }

    /// <summary>Every question asked so far, in order (e.g. to count SPF lookups).</summary>
    public IReadOnlyList<DnsQuestion> Queries
    {
        get
        {
            lock (_lock) return [.. _queries];
        }
    }

    /// <inheritdoc/>
    protected override ValueTask<DnsExchange> ExchangeAsync(string name, DnsRecordType type, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        bool authentic;
        lock (_lock)
        {
            _queries.Add(new DnsQuestion(name, type));
            if (_failures.TryGetValue((name, type), out var f) || _failures.TryGetValue((name, null), out f))
            {
                (DnsOutcome outcome, ExtendedDnsError? ede) = f;
                return ValueTask.FromResult(DnsExchange.Failure(outcome, null, "simulated failure", ede is null ? null : [ede]));
            }
            authentic = IsAuthentic(name);
        }
        (DnsResponseCode rcode, List<DnsRecord> answers, List<DnsRecord> authorities) = Zone.Lookup(name, type);
        if (AuthenticCoversCnameTargets && authentic && type != DnsRecordType.CNAME) // a CNAME query is answered by the alias alone
        {
            lock (_lock)
                authentic = answers.OfType<CnameRecord>().All(c => IsAuthentic(DnsName.Normalize(c.Target)));
        }
        var message = new DnsMessage { IsResponse = true, ResponseCode = rcode, AuthenticData = authentic, Answers = answers, Authorities = authorities };
        return ValueTask.FromResult(DnsExchange.FromResponse(message, trusted: true, server: null));
    }

    private bool IsAuthentic(string name)
    {
        string n = name;
        while (true)
        {
            if (_authentic.TryGetValue(n, out bool a)) return a;
            int dot = n.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0) return AuthenticByDefault;
            n = n[(dot + 1)..];
        }
    }
}
