// `postern config dnscheck`: compares live DNS, through the server's own resolver, with the plan
// of DnsRecordSet and lists each problem with its fix. Each record kind is compared for what
// matters to mail, not byte for byte: the MX must reach this host, exactly one SPF record may
// exist (RFC 7208 §4.5), DKIM keys must equal the key files, TLSA records must match a host key,
// and DANE counts only in a DNSSEC-authentic zone (RFC 7672 §2.2).
using Postern.Dns;
using Postern.Security.Dkim;
using Postern.Security.MtaSts;
using Postern.Web;

namespace Postern.Setup;

/// <summary>One thing wrong in DNS, with what to do about it.</summary>
internal sealed record DnsProblem(string Name, string Problem, string Fix);

/// <summary>The outcome of <see cref="DnsCheck.RunAsync"/>: problems (exit code 1) and notes (informational).</summary>
internal sealed record DnsCheckReport(IReadOnlyList<DnsProblem> Problems, IReadOnlyList<string> Notes, int Checked);

/// <summary>Checks a domain's live records against the plan.</summary>
internal static class DnsCheck
{
    /// <param name="resolver">The configured resolver.</param>
    /// <param name="inputs">What the records are planned from.</param>
    /// <param name="servedKeyDigests">SHA-256 of the public keys of the certificate files the listeners serve (path, digest), to see that TLSA from the host keys matches them.</param>
    /// <param name="ct">Cancellation.</param>
    /// <param name="fetchMtaStsPolicy">Fetches https://mta-sts.DOMAIN/.well-known/mta-sts.txt as senders do (RFC 8461 §3.3), to compare the served policy with the announced id; null: not checked.</param>
    public static async Task<DnsCheckReport> RunAsync(IDnsResolver resolver, DnsRecordInputs inputs, IReadOnlyList<(string Path, string Sha256)> servedKeyDigests, CancellationToken ct,
        Func<string, CancellationToken, Task<(MtaStsPolicy? Policy, string? Error)>>? fetchMtaStsPolicy = null)
    {
        var problems = new List<DnsProblem>();
        var notes = new List<string>();
        int checkedCount = 0;
        string host = inputs.HostName.TrimEnd('.').ToLowerInvariant();
        var plan = DnsRecordSet.Plan(inputs);
        var planned = plan.Where(g => g.Published).SelectMany(g => g.Records).ToList();

        bool Failed<T>(DnsResult<T> r, string name)
        {
            if (r.Kind is DnsOutcomeKind.Success or DnsOutcomeKind.NotFound) return false;
            problems.Add(new(name, "lookup failed: " + r.Describe(), "check that the zone's name servers answer (and, in a signed zone, that its DNSSEC signatures are valid)"));
            return true;
        }

        string FixPublish(IEnumerable<PlannedRecord> records) => "publish " + string.Join(" and ", records.Select(r => r.ToString()));

        // The host's addresses.
        checkedCount++;
        var ips = await resolver.LookupIPAsync(host, ct).ConfigureAwait(false);
        if (!Failed(ips, host))
        {
            if (ips.Records.Count == 0)
                problems.Add(new(host + ".", "no A or AAAA record: other servers cannot reach the host", "publish A (and AAAA) records with the server's public addresses"));
            foreach (var a in planned.Where(r => r.Purpose == RecordPurpose.HostAddress))
            {
                if (!ips.Records.Any(ip => ip.ToString() == a.Data))
                    problems.Add(new(a.Name, $"the host does not resolve to {a.Data}", FixPublish([a])));
            }
        }

        // MX, and with it whether the zone is DNSSEC-authentic.
        bool authentic = false;
        var mxPlanned = planned.Where(r => r.Purpose == RecordPurpose.Mx).ToList();
        string domainName = inputs.Domain.TrimEnd('.') + ".";
        var mx = await resolver.LookupMxAsync(inputs.Domain, ct).ConfigureAwait(false);
        authentic = mx.Authentic;
        if (mxPlanned.Count > 0 && !Failed(mx, domainName))
        {
            checkedCount++;
            var exchanges = mx.Records.Select(m => m.Exchange.TrimEnd('.').ToLowerInvariant()).ToList();
            if (exchanges.Count == 0)
                problems.Add(new(domainName, "no MX record: other servers deliver to the domain's A record, or not at all", FixPublish(mxPlanned)));
            else if (!exchanges.Contains(host))
                problems.Add(new(domainName, $"MX points to {string.Join(", ", exchanges)}, not to {host}: mail for the domain goes elsewhere", $"replace the MX records with {mxPlanned[0]}"));
            else if (exchanges.Any(e => e != host))
                problems.Add(new(domainName, $"MX also points to {string.Join(", ", exchanges.Where(e => e != host))}: mail delivered there does not reach this server", $"remove those MX records (keep {mxPlanned[0]})"));
        }

        // SPF, DMARC, TLSRPT, MTA-STS: TXT records recognised by their version tag.
        foreach (var (purpose, prefix) in new[] { (RecordPurpose.DomainSpf, "v=spf1"), (RecordPurpose.HostSpf, "v=spf1"), (RecordPurpose.Dmarc, "v=DMARC1"), (RecordPurpose.TlsRpt, "v=TLSRPTv1"), (RecordPurpose.MtaSts, "v=STSv1") })
        {
            foreach (var p in planned.Where(r => r.Purpose == purpose))
            {
                checkedCount++;
                var txt = await resolver.LookupTxtAsync(p.Name, ct).ConfigureAwait(false);
                if (Failed(txt, p.Name)) continue;
                var found = txt.Records.Select(t => t.Text).Where(t => IsVersion(t, prefix)).ToList();
                if (found.Count == 0)
                    problems.Add(new(p.Name, $"no {prefix} record", FixPublish([p])));
                else if (found.Count > 1)
                    problems.Add(new(p.Name, $"{found.Count} {prefix} records ({string.Join(" | ", found)}): receivers treat that as an error ({(prefix == "v=spf1" ? "RFC 7208 §4.5 permerror" : "the policy is ignored")})", $"keep only {p}"));
                else if (!Equivalent(purpose, found[0], p.Text!))
                    problems.Add(new(p.Name, $"wrong value \"{found[0]}\"", $"replace it with {p}"));
            }
        }

        // The MTA-STS policy as senders fetch it: it must be this configuration's, whose id the TXT record announces.
        var stsPlanned = planned.FirstOrDefault(r => r.Purpose == RecordPurpose.MtaSts);
        if (stsPlanned is not null && fetchMtaStsPolicy is not null)
        {
            checkedCount++;
            string url = $"https://mta-sts.{inputs.Domain}{MtaStsPolicyFile.Path}";
            var (served, error) = await fetchMtaStsPolicy(inputs.Domain, ct).ConfigureAwait(false);
            string wantId = MtaStsPolicyFile.Id(inputs.Policy);
            if (served is null)
            {
                problems.Add(new("mta-sts." + domainName, $"the MTA-STS policy cannot be fetched: {error}",
                    $"point mta-sts.{domainName} at this server (publish mta-sts.{domainName} IN CNAME {host}.), keep `https` enabled, and let ACME (or your key-certs) give it a valid certificate for mta-sts.{inputs.Domain}"));
            }
            else if (MtaStsPolicyFile.Id(served) != wantId)
            {
                problems.Add(new("mta-sts." + domainName, $"{url} serves a different policy (id {MtaStsPolicyFile.Id(served)}, mode {served.Mode.ToString().ToLowerInvariant()}, mx {string.Join(" ", served.Mx)}) than this configuration's (id {wantId})",
                    "restart the server after changing the mta-sts settings or listeners, and check that mta-sts." + inputs.Domain + " reaches this server"));
            }
        }

        // DKIM: each key file's public key.
        foreach (var p in planned.Where(r => r.Purpose == RecordPurpose.Dkim))
        {
            checkedCount++;
            var txt = await resolver.LookupTxtAsync(p.Name, ct).ConfigureAwait(false);
            if (Failed(txt, p.Name)) continue;
            if (txt.Records.Count == 0)
            {
                problems.Add(new(p.Name, "DKIM key record missing: receivers cannot verify signatures made with this key", FixPublish([p])));
                continue;
            }
            DkimKeyRecord.TryParse(p.Text!, out var want, out _);
            bool match = txt.Records.Any(t => DkimKeyRecord.TryParse(t.Text, out var have, out _) && want is not null && have.PublicKey.AsSpan().SequenceEqual(want.PublicKey));
            if (!match)
                problems.Add(new(p.Name, "DKIM record does not match the key file (DATA/dkim): signatures fail verification", $"replace it with {p}"));
        }

        // CAA at the host name (or the closest ancestor that has some, RFC 8659 §3).
        var caaPlanned = planned.Where(r => r.Purpose == RecordPurpose.Caa).ToList();
        if (caaPlanned.Count > 0)
        {
            checkedCount++;
            var caa = await ClosestCaaAsync(resolver, host, ct).ConfigureAwait(false);
            if (caa is not null && !Failed(caa, caaPlanned[0].Name))
            {
                var issue = caa.Records.Where(c => c.Tag.Equals("issue", StringComparison.OrdinalIgnoreCase)).Select(c => Squeeze(c.ValueText)).ToList();
                foreach (var p in caaPlanned.Where(p => !issue.Contains(Squeeze(p.Text!), StringComparer.OrdinalIgnoreCase)))
                {
                    problems.Add(new(p.Name, issue.Count == 0 ? "no CAA record: any CA may issue certificates for the host" : $"CAA does not have {p.Data} (it has: {string.Join(" | ", issue)})",
                        FixPublish([p])));
                }
            }
        }

        // TLSA (DANE).
        var tlsaPlanned = planned.Where(r => r.Purpose == RecordPurpose.Tlsa).ToList();
        if (tlsaPlanned.Count > 0)
        {
            checkedCount++;
            string name = tlsaPlanned[0].Name;
            var tlsa = await resolver.LookupTlsaAsync(name, ct).ConfigureAwait(false);
            if (!Failed(tlsa, name))
            {
                var wanted = inputs.TlsaSha256.Select(d => d.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
                var live = tlsa.Records.Select(t => (t.Usage, t.Selector, t.MatchingType, Hex: Convert.ToHexStringLower(t.AssociationData))).ToList();
                foreach (var t in live.Where(t => !(t.Usage == 3 && t.Selector == 1 && t.MatchingType == 1 && wanted.Contains(t.Hex))))
                {
                    problems.Add(new(name, $"TLSA {t.Usage} {t.Selector} {t.MatchingType} {t.Hex} does not match the server's host keys{(authentic ? ": DANE senders will not deliver if no record matches" : "")}",
                        "remove it; " + FixPublish(tlsaPlanned)));
                }
                if (!authentic)
                {
                    notes.Add($"{domainName} is not DNSSEC-authentic through the configured resolver: DANE needs a DNSSEC-signed zone (and a validating resolver); senders ignore TLSA records until the zone is signed. Publish them after signing.");
                }
                else if (!live.Any(t => t.Usage == 3 && t.Selector == 1 && t.MatchingType == 1 && wanted.Contains(t.Hex)))
                {
                    problems.Add(new(name, "no TLSA record for the server's host keys: DANE is not in use although the zone is signed", FixPublish(tlsaPlanned)));
                }
            }
            foreach (var (path, digest) in servedKeyDigests.Where(s => !inputs.TlsaSha256.Contains(s.Sha256, StringComparer.OrdinalIgnoreCase)))
            {
                problems.Add(new(name, $"the certificate {path} is not for a host key (DATA/hostkeys), so the TLSA records do not match what the server presents",
                    "request the certificate for data/hostkeys/ecdsa-p256.pem (see docs/install.md, Certificates), or use ACME"));
            }
        }
        else if (!authentic)
        {
            notes.Add($"{domainName} is not DNSSEC-authentic through the configured resolver: DANE (TLSA records) needs a DNSSEC-signed zone.");
        }

        // SRV records for mail clients.
        foreach (var p in planned.Where(r => r.Purpose == RecordPurpose.Srv))
        {
            checkedCount++;
            var srv = await resolver.LookupSrvAsync(p.Name, ct).ConfigureAwait(false);
            if (Failed(srv, p.Name)) continue;
            var parts = p.Data.Split(' ');
            string target = parts[3].TrimEnd('.').ToLowerInvariant();
            ushort port = ushort.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
            if (srv.Records.Count == 0)
            {
                problems.Add(new(p.Name, target.Length == 0 ? "missing (clients may guess and try the service)" : "missing: mail clients do not find the service", FixPublish([p])));
                continue;
            }
            bool ok = target.Length == 0
                ? srv.Records.All(s => s.Target.TrimEnd('.').Length == 0)
                : srv.Records.Any(s => s.Target.TrimEnd('.').Equals(target, StringComparison.OrdinalIgnoreCase) && s.Port == port);
            if (!ok)
                problems.Add(new(p.Name, $"wrong value: {string.Join(" | ", srv.Records.Select(s => $"{s.Priority} {s.Weight} {s.Port} {s.Target}"))}", $"replace it with {p}"));
        }

        // CNAMEs (MTA-STS host, autoconfiguration), when the server serves them.
        foreach (var p in planned.Where(r => r.Purpose == RecordPurpose.Cname))
        {
            checkedCount++;
            var cname = await resolver.QueryAsync(p.Name, DnsRecordType.CNAME, ct).ConfigureAwait(false);
            if (Failed(cname, p.Name)) continue;
            bool ok = cname.Records.OfType<CnameRecord>().Any(c => c.Target.TrimEnd('.').Equals(host, StringComparison.OrdinalIgnoreCase));
            if (!ok)
                problems.Add(new(p.Name, cname.Records.Count == 0 ? "missing" : "points elsewhere", FixPublish([p])));
        }

        return new DnsCheckReport(problems, notes, checkedCount);
    }

    private static bool IsVersion(string text, string prefix) =>
        text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) &&
        (text.Length == prefix.Length || text[prefix.Length] is ' ' or ';' or '\t');

    /// <summary>Whether a live record says what the planned one says: same SPF terms; same DMARC/TLSRPT/MTA-STS tags that the plan sets.</summary>
    private static bool Equivalent(RecordPurpose purpose, string live, string planned)
    {
        if (purpose is RecordPurpose.DomainSpf or RecordPurpose.HostSpf)
        {
            static string[] Terms(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(t => t.ToLowerInvariant()).ToArray();
            return Terms(live).SequenceEqual(Terms(planned));
        }
        var have = Tags(live);
        return Tags(planned).All(t => have.TryGetValue(t.Key, out var v) && string.Equals(v, t.Value, StringComparison.OrdinalIgnoreCase));
    }

    private static Dictionary<string, string> Tags(string record)
    {
        var tags = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in record.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0) tags[part[..eq].Trim()] = part[(eq + 1)..].Trim();
        }
        return tags;
    }

    private static string Squeeze(string s) => string.Concat(s.Where(c => !char.IsWhiteSpace(c)));

    /// <summary>The CAA set that applies to <paramref name="name"/>: its own, or its closest ancestor's (RFC 8659 §3).</summary>
    private static async Task<DnsResult<CaaRecord>?> ClosestCaaAsync(IDnsResolver resolver, string name, CancellationToken ct)
    {
        DnsResult<CaaRecord>? last = null;
        for (string n = name; n.Contains('.', StringComparison.Ordinal); n = n[(n.IndexOf('.', StringComparison.Ordinal) + 1)..])
        {
            last = await resolver.LookupCaaAsync(n, ct).ConfigureAwait(false);
            if (last.Kind != DnsOutcomeKind.NotFound) return last;
        }
        return last;
    }
}
