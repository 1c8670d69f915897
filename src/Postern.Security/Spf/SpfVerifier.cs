// check_host() of RFC 7208 §4. One evaluation shares its DNS lookup counters across
// include/redirect recursion, so the limits of §4.6.4 (10 lookups, 2 void lookups) bound
// both the work and the recursion depth. DNS errors unwind through SpfAbort to the top,
// where they become temperror or permerror with the reason kept as the "problem".
using System.Net;
using System.Net.Sockets;
using Postern.Dns;

namespace Postern.Security.Spf;

/// <summary>Limits and identity of the SPF verifier.</summary>
public sealed class SpfOptions
{
    /// <summary>DNS-querying terms allowed per evaluation (RFC 7208 §4.6.4: 10).</summary>
    public int MaxDnsLookups { get; init; } = 10;

    /// <summary>Lookups returning no records allowed per evaluation (RFC 7208 §4.6.4: 2).</summary>
    public int MaxVoidLookups { get; init; } = 2;

    /// <summary>Bound on one whole evaluation (RFC 7208 §4.6.4 suggests at least 20 seconds).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>This host's name, for the %{r} macro in explanations.</summary>
    public string ReceivingHost { get; init; } = "unknown";

    /// <summary>Clock for the %{t} macro.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>Both SPF checks of an SMTP transaction (RFC 7208 §2.3, §2.4).</summary>
/// <param name="Helo">The HELO identity's result.</param>
/// <param name="MailFrom">The MAIL FROM identity's result (postmaster@HELO for the null sender).</param>
public sealed record SpfVerification(SpfCheckResult Helo, SpfCheckResult MailFrom)
{
    /// <summary>The result to act on and report: MAIL FROM (which falls back to HELO for bounces).</summary>
    public SpfCheckResult Effective => MailFrom;
}

/// <summary>Evaluates SPF policies (RFC 7208) with a DNS resolver.</summary>
public sealed class SpfVerifier
{
    private readonly IDnsResolver _dns;
    private readonly SpfOptions _options;

    /// <summary>Creates a verifier.</summary>
    public SpfVerifier(IDnsResolver dns, SpfOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dns);
        _dns = dns;
        _options = options ?? new SpfOptions();
    }

    /// <summary>Checks the HELO identity and the MAIL FROM identity of a transaction.</summary>
    public async Task<SpfVerification> VerifyAsync(IPAddress clientIp, string helo, string mailFrom, CancellationToken cancellationToken = default)
    {
        SpfCheckResult h = await CheckHeloAsync(clientIp, helo, cancellationToken).ConfigureAwait(false);
        SpfCheckResult m = string.IsNullOrEmpty(mailFrom)
            ? new SpfCheckResult
            {
                Result = h.Result, Identity = SpfIdentity.MailFrom, Domain = h.Domain, Sender = h.Sender, ClientIp = h.ClientIp, Helo = h.Helo,
                Mechanism = h.Mechanism, Explanation = h.Explanation, Problem = h.Problem, DnsLookups = h.DnsLookups, VoidLookups = h.VoidLookups,
                DnssecAuthentic = h.DnssecAuthentic,
            }
            : await CheckMailFromAsync(clientIp, helo, mailFrom, cancellationToken).ConfigureAwait(false);
        return new SpfVerification(h, m);
    }

    /// <summary>Checks the HELO identity (RFC 7208 §2.3): sender postmaster@HELO.</summary>
    public Task<SpfCheckResult> CheckHeloAsync(IPAddress clientIp, string helo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(helo);
        return CheckHostAsync(clientIp, helo, "postmaster@" + helo, helo, SpfIdentity.Helo, cancellationToken);
    }

    /// <summary>Checks the MAIL FROM identity (RFC 7208 §2.4); the null sender is checked as postmaster@HELO.</summary>
    public Task<SpfCheckResult> CheckMailFromAsync(IPAddress clientIp, string helo, string mailFrom, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(helo);
        string sender = string.IsNullOrEmpty(mailFrom) ? "postmaster@" + helo : mailFrom;
        int at = sender.LastIndexOf('@');
        string domain = at >= 0 ? sender[(at + 1)..] : sender;
        return CheckHostAsync(clientIp, domain, sender, helo, SpfIdentity.MailFrom, cancellationToken);
    }

    /// <summary>The check_host() function of RFC 7208 §4.</summary>
    public async Task<SpfCheckResult> CheckHostAsync(IPAddress clientIp, string domain, string sender, string helo, SpfIdentity identity,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clientIp);
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(helo);
        if (clientIp.IsIPv4MappedToIPv6) clientIp = clientIp.MapToIPv4();
        // RFC 7208 §4.3: no local-part means "postmaster".
        int at = sender.LastIndexOf('@');
        string local = at > 0 ? sender[..at] : "postmaster";
        if (at == 0) sender = "postmaster" + sender;
        else if (at < 0) sender = "postmaster@" + sender;
        string senderDomain = at >= 0 ? sender[(sender.LastIndexOf('@') + 1)..] : domain;

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        var ev = new Evaluation(this, clientIp, timeout.Token);
        ev.Macros = new SpfMacroValues
        {
            Sender = sender, LocalPart = local, SenderDomain = senderDomain, Domain = domain, Ip = clientIp, Helo = helo,
            ReceivingHost = _options.ReceivingHost, Now = _options.TimeProvider.GetUtcNow(), ValidatedName = ev.ValidatedNameAsync,
        };
        SpfResult result;
        string? problem = null, explanation = null, mechanism = null;
        try
        {
            (result, mechanism, explanation) = await ev.CheckAsync(domain, topLevel: true).ConfigureAwait(false);
        }
        catch (SpfAbort abort)
        {
            result = abort.Result;
            problem = abort.Message;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            result = SpfResult.TempError;
            problem = "SPF evaluation timed out";
        }
        if (result == SpfResult.None && problem is null) problem = ev.NoneReason;
        return new SpfCheckResult
        {
            Result = result, Identity = identity, Domain = domain, Sender = sender, ClientIp = clientIp, Helo = helo,
            Mechanism = mechanism, Explanation = explanation, Problem = problem is null || result is SpfResult.TempError or SpfResult.PermError or SpfResult.None ? problem : null,
            DnsLookups = ev.Lookups, VoidLookups = ev.Voids, DnssecAuthentic = ev.AnyLookup && ev.Authentic,
        };
    }

    /// <summary>Unwinds an evaluation with temperror or permerror.</summary>
    private sealed class SpfAbort(SpfResult result, string message) : Exception(message)
    {
        public SpfResult Result { get; } = result;
    }

    /// <summary>State of one check_host() evaluation.</summary>
    private sealed class Evaluation(SpfVerifier owner, IPAddress ip, CancellationToken cancellationToken)
    {
        public int Lookups;
        public int Voids;
        public bool Authentic = true;
        public bool AnyLookup;
        public string? NoneReason;
        public SpfMacroValues Macros = null!;
        private string? _validatedName;

        private IDnsResolver Dns => owner._dns;
        private SpfOptions Options => owner._options;
        private bool IsV6 => ip.AddressFamily == AddressFamily.InterNetworkV6;

        public async Task<(SpfResult, string?, string?)> CheckAsync(string domain, bool topLevel)
        {
            // RFC 7208 §4.3: a malformed or single-label domain gives "none".
            if (!IsValidDomain(domain, out string? why))
            {
                NoneReason = why;
                return (SpfResult.None, null, null);
            }
            DnsResult<TxtRecord> txt = await Dns.LookupTxtAsync(domain, cancellationToken).ConfigureAwait(false);
            Note(txt.Authentic);
            if (txt.IsTemporaryFailure) throw new SpfAbort(SpfResult.TempError, "DNS lookup of TXT " + domain + " failed: " + txt.Describe());
            // RFC 7208 §4.5: records found among the TXT records; none means "none", several "permerror".
            string? text = null;
            foreach (TxtRecord r in txt.Records)
            {
                string t = r.Text;
                if (!SpfRecord.IsSpfRecord(t)) continue;
                if (text is not null) throw new SpfAbort(SpfResult.PermError, $"more than one SPF record at {domain}");
                text = t;
            }
            if (text is null)
            {
                NoneReason = $"no SPF record at {domain}";
                return (SpfResult.None, null, null);
            }
            if (!SpfRecord.TryParse(text, out SpfRecord? record, out string? error))
                throw new SpfAbort(SpfResult.PermError, $"invalid SPF record at {domain}: {error}");

            SpfMacroValues saved = Macros;
            Macros = saved.WithDomain(domain);
            try
            {
                foreach (SpfDirective d in record.Directives)
                {
                    if (!await MatchesAsync(d, domain).ConfigureAwait(false)) continue;
                    SpfResult r = d.Qualifier switch { '-' => SpfResult.Fail, '~' => SpfResult.SoftFail, '?' => SpfResult.Neutral, _ => SpfResult.Pass };
                    string? exp = r == SpfResult.Fail && record.Explanation is not null && topLevel
                        ? await ExplanationAsync(record.Explanation).ConfigureAwait(false)
                        : null;
                    return (r, d.Text, exp);
                }
                // RFC 7208 §6.1: redirect applies when nothing matched and the record has no "all".
                if (record.Redirect is not null && !record.Directives.Any(d => d.Kind == SpfMechanismKind.All))
                {
                    Count();
                    string target = await TargetAsync(record.Redirect).ConfigureAwait(false);
                    (SpfResult r, string? m, string? e) = await CheckAsync(target, topLevel).ConfigureAwait(false);
                    if (r == SpfResult.None) throw new SpfAbort(SpfResult.PermError, $"redirect={target} has no SPF record");
                    return (r, m, e);
                }
                return (SpfResult.Neutral, null, null);
            }
            finally
            {
                Macros = saved;
            }
        }

        private async Task<bool> MatchesAsync(SpfDirective d, string domain)
        {
            switch (d.Kind)
            {
                case SpfMechanismKind.All:
                    return true;
                case SpfMechanismKind.Ip4:
                    return !IsV6 && InNetwork(ip, d.Network!, d.Prefix4);
                case SpfMechanismKind.Ip6:
                    return IsV6 && InNetwork(ip, d.Network!, d.Prefix6);
                case SpfMechanismKind.Include:
                {
                    Count();
                    string target = await TargetAsync(d.DomainSpec!).ConfigureAwait(false);
                    // RFC 7208 §5.2: the included policy only decides whether the directive matches.
                    (SpfResult r, _, _) = await CheckAsync(target, topLevel: false).ConfigureAwait(false);
                    return r switch
                    {
                        SpfResult.Pass => true,
                        SpfResult.None => throw new SpfAbort(SpfResult.PermError, $"include:{target} has no SPF record"),
                        _ => false,
                    };
                }
                case SpfMechanismKind.A:
                {
                    Count();
                    string target = d.DomainSpec is null ? domain : await TargetAsync(d.DomainSpec).ConfigureAwait(false);
                    DnsResult<IPAddress> r = await AddressesAsync(target, countVoid: true).ConfigureAwait(false);
                    return r.Records.Any(a => InNetwork(ip, a, IsV6 ? d.Prefix6 : d.Prefix4));
                }
                case SpfMechanismKind.Mx:
                {
                    Count();
                    string target = d.DomainSpec is null ? domain : await TargetAsync(d.DomainSpec).ConfigureAwait(false);
                    DnsResult<MxRecord> mx = await Dns.LookupMxAsync(target, cancellationToken).ConfigureAwait(false);
                    Note(mx.Authentic);
                    CheckFailure(mx, target);
                    if (mx.IsNotFound) { Void(); return false; }
                    // RFC 7208 §4.6.4: more than 10 MX records is a permerror.
                    if (mx.Records.Count > Options.MaxDnsLookups) throw new SpfAbort(SpfResult.PermError, $"{target} has more than {Options.MaxDnsLookups} MX records");
                    foreach (MxRecord m in mx.Records)
                    {
                        if (m.Exchange is "" or ".") continue;
                        DnsResult<IPAddress> r = await AddressesAsync(m.Exchange, countVoid: false).ConfigureAwait(false);
                        if (r.Records.Any(a => InNetwork(ip, a, IsV6 ? d.Prefix6 : d.Prefix4))) return true;
                    }
                    return false;
                }
                case SpfMechanismKind.Ptr:
                {
                    Count();
                    string target = d.DomainSpec is null ? domain : await TargetAsync(d.DomainSpec).ConfigureAwait(false);
                    foreach (string name in await ValidatedNamesAsync(countVoid: true).ConfigureAwait(false))
                        if (DnsName.IsSubdomainOf(name, target)) return true;
                    return false;
                }
                case SpfMechanismKind.Exists:
                {
                    Count();
                    string target = await TargetAsync(d.DomainSpec!).ConfigureAwait(false);
                    // RFC 7208 §5.7: always an A query, whatever the client's address family.
                    DnsResult<IPAddress> r = await Dns.LookupAAsync(target, cancellationToken).ConfigureAwait(false);
                    Note(r.Authentic);
                    CheckFailure(r, target);
                    if (r.Records.Count == 0) { Void(); return false; }
                    return true;
                }
            }
            return false;
        }

        /// <summary>A or AAAA records of a name by the client's family; temporary failures abort.</summary>
        private async Task<DnsResult<IPAddress>> AddressesAsync(string name, bool countVoid)
        {
            DnsResult<IPAddress> r = IsV6
                ? await Dns.LookupAaaaAsync(name, cancellationToken).ConfigureAwait(false)
                : await Dns.LookupAAsync(name, cancellationToken).ConfigureAwait(false);
            Note(r.Authentic);
            CheckFailure(r, name);
            if (r.Records.Count == 0 && countVoid) Void();
            return r;
        }

        private static void CheckFailure<T>(DnsResult<T> r, string name)
        {
            if (r.IsTemporaryFailure) throw new SpfAbort(SpfResult.TempError, $"DNS lookup of {name} failed: {r.Describe()}");
        }

        /// <summary>RFC 7208 §5.5: names from PTR records (first 10) whose addresses include the client's.</summary>
        private async Task<List<string>> ValidatedNamesAsync(bool countVoid)
        {
            var names = new List<string>();
            DnsResult<PtrRecord> ptr = await Dns.LookupPtrAsync(ip, cancellationToken).ConfigureAwait(false);
            Note(ptr.Authentic);
            // A DNS error on the PTR lookup makes the mechanism not match (RFC 7208 §5.5).
            if (ptr.Records.Count == 0)
            {
                if (countVoid && ptr.IsNotFound) Void();
                return names;
            }
            foreach (PtrRecord p in ptr.Records.Take(Options.MaxDnsLookups))
            {
                DnsResult<IPAddress> a = IsV6
                    ? await Dns.LookupAaaaAsync(p.Target, cancellationToken).ConfigureAwait(false)
                    : await Dns.LookupAAsync(p.Target, cancellationToken).ConfigureAwait(false);
                Note(a.Authentic);
                if (a.Records.Any(x => x.Equals(ip))) names.Add(p.Target);
            }
            return names;
        }

        /// <summary>The %{p} macro (RFC 7208 §7.3): a validated name, preferring one within the current domain.</summary>
        public async ValueTask<string> ValidatedNameAsync()
        {
            if (_validatedName is not null) return _validatedName;
            List<string> names = await ValidatedNamesAsync(countVoid: false).ConfigureAwait(false);
            string? best = names.FirstOrDefault(n => DnsName.IsSubdomainOf(n, Macros.Domain)) ?? names.FirstOrDefault();
            return _validatedName = best ?? "unknown";
        }

        private async Task<string> TargetAsync(string domainSpec)
        {
            string s = await SpfMacro.ExpandAsync(domainSpec, Macros, explanation: false).ConfigureAwait(false);
            if (s.EndsWith('.')) s = s[..^1];
            // RFC 7208 §7.3: over 253 characters, labels are removed from the left.
            while (s.Length > 253)
            {
                int dot = s.IndexOf('.', StringComparison.Ordinal);
                if (dot < 0) break;
                s = s[(dot + 1)..];
            }
            return EscapeForDns(s);
        }

        private async Task<string?> ExplanationAsync(string spec)
        {
            // RFC 7208 §6.2: any problem fetching or expanding the explanation means no explanation.
            try
            {
                string target = await TargetAsync(spec).ConfigureAwait(false);
                if (!IsValidDomain(target, out _)) return null;
                DnsResult<TxtRecord> txt = await Dns.LookupTxtAsync(target, cancellationToken).ConfigureAwait(false);
                if (txt.Records.Count != 1) return null;
                string text = txt.Records[0].Text;
                if (text.Any(c => c > 0x7E || c < 0x20)) return null;
                if (!SpfMacro.IsValidMacroString(text, explanation: true, out _)) return null;
                return await SpfMacro.ExpandAsync(text, Macros, explanation: true).ConfigureAwait(false);
            }
            catch (SpfAbort)
            {
                return null;
            }
        }

        private void Count()
        {
            if (++Lookups > Options.MaxDnsLookups)
                throw new SpfAbort(SpfResult.PermError, $"more than {Options.MaxDnsLookups} DNS lookups");
        }

        private void Void()
        {
            if (++Voids > Options.MaxVoidLookups)
                throw new SpfAbort(SpfResult.PermError, $"more than {Options.MaxVoidLookups} void DNS lookups");
        }

        private void Note(bool authentic)
        {
            AnyLookup = true;
            Authentic &= authentic;
        }
    }

    /// <summary>
    /// Expanded macros may put spaces or other octets in a name; DNS carries any octet in a label,
    /// so they are written as RFC 1035 §5.1 \DDD escapes for the resolver.
    /// </summary>
    internal static string EscapeForDns(string name)
    {
        bool plain = true;
        foreach (char c in name)
            if (c <= ' ' || c == '\\' || c == (char)0x7F) { plain = false; break; }
        if (plain) return name;
        var sb = new System.Text.StringBuilder(name.Length + 16);
        foreach (char c in name)
        {
            if (c <= ' ' || c == '\\' || c == (char)0x7F) sb.Append('\\').Append(((int)c).ToString("D3", System.Globalization.CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>RFC 7208 §4.3: a multi-label name with labels of 1-63 octets, not a literal.</summary>
    internal static bool IsValidDomain(string domain, out string? reason)
    {
        reason = null;
        string d = domain.EndsWith('.') ? domain[..^1] : domain;
        if (d.Length == 0 || d.StartsWith('[')) { reason = $"\"{domain}\" is not a domain name"; return false; }
        if (d.Length > 253) { reason = "domain name too long"; return false; }
        string[] labels = d.Split('.');
        if (labels.Length < 2) { reason = $"\"{domain}\" is not a fully qualified domain name"; return false; }
        foreach (string l in labels)
            if (l.Length is 0 or > 63) { reason = $"\"{domain}\" has an empty label or one longer than 63 characters"; return false; }
        if (!DnsName.TryNormalize(d, out _, out string? why)) { reason = why; return false; }
        return true;
    }

    /// <summary>Whether <paramref name="address"/> lies in <paramref name="network"/>/<paramref name="prefix"/> (same family only).</summary>
    internal static bool InNetwork(IPAddress address, IPAddress network, int prefix)
    {
        if (address.AddressFamily != network.AddressFamily) return false;
        Span<byte> a = stackalloc byte[16], n = stackalloc byte[16];
        address.TryWriteBytes(a, out int len);
        network.TryWriteBytes(n, out _);
        int full = prefix / 8;
        if (!a[..full].SequenceEqual(n[..full])) return false;
        int rest = prefix % 8;
        if (rest == 0 || full >= len) return true;
        int mask = 0xFF << (8 - rest) & 0xFF;
        return (a[full] & mask) == (n[full] & mask);
    }
}
