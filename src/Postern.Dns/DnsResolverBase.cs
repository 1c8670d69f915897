// Shared lookup logic: name normalisation, CNAME chain following, typed views. The
// subclass supplies one exchange (question -> response) from the network, a cache or an
// in-memory zone. A chain is followed first inside each response (a recursive resolver
// returns the whole chain), and only re-queried when a response stops at an alias.
using System.Net;

namespace Postern.Dns;

/// <summary>Implements <see cref="IDnsResolver"/> on top of a single-question exchange.</summary>
public abstract class DnsResolverBase : IDnsResolver
{
    /// <summary>Default bound on CNAME chains (mox and unbound use similar small limits).</summary>
    public const int DefaultMaxCnameChain = 8;

    /// <summary>Creates the resolver base.</summary>
    protected DnsResolverBase(int maxCnameChain) =>
        MaxCnameChain = maxCnameChain > 0 ? maxCnameChain : DefaultMaxCnameChain;

    /// <summary>Longest CNAME chain followed.</summary>
    protected int MaxCnameChain { get; }

    /// <summary>Answers one question for a normalised name, without following CNAMEs across queries.</summary>
    protected abstract ValueTask<DnsExchange> ExchangeAsync(string name, DnsRecordType type, CancellationToken cancellationToken);

    /// <inheritdoc/>
    public async ValueTask<DnsResult<DnsRecord>> QueryAsync(string name, DnsRecordType type, CancellationToken cancellationToken = default)
    {
        if (!DnsName.TryNormalize(name, out string? normalized, out string? error))
            return new DnsResult<DnsRecord>(name ?? "", type, DnsOutcome.InvalidName, [], false, errorDetail: error);

        string current = normalized;
        List<CnameRecord>? chain = null;
        List<ExtendedDnsError>? ede = null;
        bool authentic = true;
        while (true)
        {
            DnsExchange ex = await ExchangeAsync(current, type, cancellationToken).ConfigureAwait(false);
            authentic &= ex.Authentic;
            if (ex.ExtendedErrors.Count > 0) (ede ??= []).AddRange(ex.ExtendedErrors);
            if (ex.Outcome is not (DnsOutcome.Success or DnsOutcome.NoData or DnsOutcome.NxDomain))
                return new DnsResult<DnsRecord>(normalized, type, ex.Outcome, [], false, chain, ede, ex.Server, ex.ErrorDetail);

            string askedFor = current;
            while (true)
            {
                List<DnsRecord>? found = null;
                CnameRecord? alias = null;
                foreach (DnsRecord r in ex.Answers)
                {
                    if (!DnsName.Equals(r.Name, current)) continue;
                    if (r.Type == type) (found ??= []).Add(r);
                    else if (r is CnameRecord c) alias = c;
                }
                if (found is not null)
                    return new DnsResult<DnsRecord>(normalized, type, DnsOutcome.Success, found, authentic, chain, ede, ex.Server);
                if (alias is null || type == DnsRecordType.CNAME) break;
                chain ??= [];
                // RFC 1034 §3.6.2: chains must not loop; a bound also stops long chains.
                if (chain.Count >= MaxCnameChain || DnsName.Equals(alias.Target, normalized) || chain.Exists(c => DnsName.Equals(c.Target, alias.Target)))
                    return new DnsResult<DnsRecord>(normalized, type, DnsOutcome.CnameChainTooLong, [], false, chain, ede, ex.Server,
                        $"CNAME chain longer than {MaxCnameChain} or looping at {alias.Target}");
                chain.Add(alias);
                if (!DnsName.TryNormalize(alias.Target, out string? target, out string? why))
                    return new DnsResult<DnsRecord>(normalized, type, DnsOutcome.MalformedResponse, [], false, chain, ede, ex.Server, "CNAME target: " + why);
                current = target;
            }

            // RFC 6604 §3: the RCODE describes the last name of the chain.
            if (ex.Outcome == DnsOutcome.NxDomain)
                return new DnsResult<DnsRecord>(normalized, type, DnsOutcome.NxDomain, [], authentic, chain, ede, ex.Server);
            if (ReferenceEquals(askedFor, current) || !HasNoAnswerForTarget(ex, current))
                return new DnsResult<DnsRecord>(normalized, type, DnsOutcome.NoData, [], authentic, chain, ede, ex.Server);
            // The response stopped at an alias without saying anything about its target: ask for the target.
        }
    }

    /// <summary>True when the response says nothing (no SOA) about the end of the chain, so it must be asked for.</summary>
    private static bool HasNoAnswerForTarget(DnsExchange ex, string target)
    {
        foreach (DnsRecord r in ex.Authorities)
            if (r is SoaRecord soa && DnsName.IsSubdomainOf(target, soa.Name)) return false;
        return true;
    }

    /// <inheritdoc/>
    public async ValueTask<DnsResult<MxRecord>> LookupMxAsync(string name, CancellationToken cancellationToken = default)
    {
        DnsResult<MxRecord> r = Typed<MxRecord>(await QueryAsync(name, DnsRecordType.MX, cancellationToken).ConfigureAwait(false));
        if (r.Records.Count < 2) return r;
        // RFC 5321 §5.1: lower preference first; the sort is stable so equal ones keep server order.
        MxRecord[] sorted = [.. r.Records.OrderBy(m => m.Preference)];
        return new DnsResult<MxRecord>(r.Name, r.Type, r.Outcome, sorted, r.Authentic, r.CnameChain, r.ExtendedErrors, r.Server, r.ErrorDetail);
    }

    /// <inheritdoc/>
    public async ValueTask<DnsResult<TxtRecord>> LookupTxtAsync(string name, CancellationToken cancellationToken = default) =>
        Typed<TxtRecord>(await QueryAsync(name, DnsRecordType.TXT, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc/>
    public async ValueTask<DnsResult<IPAddress>> LookupAAsync(string name, CancellationToken cancellationToken = default) =>
        Typed<ARecord>(await QueryAsync(name, DnsRecordType.A, cancellationToken).ConfigureAwait(false)).Map(a => a.Address);

    /// <inheritdoc/>
    public async ValueTask<DnsResult<IPAddress>> LookupAaaaAsync(string name, CancellationToken cancellationToken = default) =>
        Typed<AaaaRecord>(await QueryAsync(name, DnsRecordType.AAAA, cancellationToken).ConfigureAwait(false)).Map(a => a.Address);

    /// <inheritdoc/>
    public async ValueTask<DnsResult<IPAddress>> LookupIPAsync(string name, CancellationToken cancellationToken = default)
    {
        Task<DnsResult<IPAddress>> v4 = LookupAAsync(name, cancellationToken).AsTask();
        Task<DnsResult<IPAddress>> v6 = LookupAaaaAsync(name, cancellationToken).AsTask();
        DnsResult<IPAddress> a = await v4.ConfigureAwait(false);
        DnsResult<IPAddress> b = await v6.ConfigureAwait(false);
        IPAddress[] all = [.. a.Records, .. b.Records];
        DnsOutcome outcome;
        string? detail = null;
        if (all.Length > 0) outcome = DnsOutcome.Success;
        else if (a.IsTemporaryFailure) { outcome = a.Outcome; detail = a.ErrorDetail; }
        else if (b.IsTemporaryFailure) { outcome = b.Outcome; detail = b.ErrorDetail; }
        else if (a.Outcome == DnsOutcome.NxDomain && b.Outcome == DnsOutcome.NxDomain) outcome = DnsOutcome.NxDomain;
        else if (a.Kind == DnsOutcomeKind.PermanentFailure) { outcome = a.Outcome; detail = a.ErrorDetail; }
        else outcome = DnsOutcome.NoData;
        bool authentic = a.Authentic && b.Authentic;
        IReadOnlyList<CnameRecord> chain = a.CnameChain.Count >= b.CnameChain.Count ? a.CnameChain : b.CnameChain;
        ExtendedDnsError[] ede = [.. a.ExtendedErrors, .. b.ExtendedErrors];
        return new DnsResult<IPAddress>(a.Name, DnsRecordType.A, outcome, outcome == DnsOutcome.Success ? all : [], authentic, chain, ede, a.Server ?? b.Server, detail);
    }

    /// <inheritdoc/>
    public async ValueTask<DnsResult<PtrRecord>> LookupPtrAsync(IPAddress address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return Typed<PtrRecord>(await QueryAsync(DnsName.ReverseName(address), DnsRecordType.PTR, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc/>
    public async ValueTask<DnsResult<TlsaRecord>> LookupTlsaAsync(string name, CancellationToken cancellationToken = default) =>
        Typed<TlsaRecord>(await QueryAsync(name, DnsRecordType.TLSA, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc/>
    public async ValueTask<DnsResult<SrvRecord>> LookupSrvAsync(string name, CancellationToken cancellationToken = default) =>
        Typed<SrvRecord>(await QueryAsync(name, DnsRecordType.SRV, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc/>
    public async ValueTask<DnsResult<CaaRecord>> LookupCaaAsync(string name, CancellationToken cancellationToken = default) =>
        Typed<CaaRecord>(await QueryAsync(name, DnsRecordType.CAA, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc/>
    public async ValueTask<DnsResult<NsRecord>> LookupNsAsync(string name, CancellationToken cancellationToken = default) =>
        Typed<NsRecord>(await QueryAsync(name, DnsRecordType.NS, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc/>
    public async ValueTask<DnsResult<SoaRecord>> LookupSoaAsync(string name, CancellationToken cancellationToken = default) =>
        Typed<SoaRecord>(await QueryAsync(name, DnsRecordType.SOA, cancellationToken).ConfigureAwait(false));

    private static DnsResult<T> Typed<T>(DnsResult<DnsRecord> r) where T : DnsRecord
    {
        var list = new List<T>(r.Records.Count);
        foreach (DnsRecord rec in r.Records)
            if (rec is T t) list.Add(t);
        // A record of the right type code that failed to decode as T (class not IN) counts as no data.
        DnsOutcome outcome = r.Outcome == DnsOutcome.Success && list.Count == 0 ? DnsOutcome.NoData : r.Outcome;
        return new DnsResult<T>(r.Name, r.Type, outcome, list, r.Authentic, r.CnameChain, r.ExtendedErrors, r.Server, r.ErrorDetail);
    }
}
