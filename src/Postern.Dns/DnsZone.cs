// An in-memory set of records answering like an authoritative server: CNAMEs inside the
// set are chased, a name with records below it exists (RFC 8020 empty non-terminals),
// wildcards match per RFC 4592 §3.3 (closest encloser), negative answers carry an SOA so
// resolvers can cache them (RFC 2308 §3).
using System.Net;
using Postern.Dns.Wire;

namespace Postern.Dns;

/// <summary>
/// Records held in memory, answering questions as an authoritative server would. Used by
/// <see cref="InMemoryDnsResolver"/> and by test DNS servers. Thread-safe.
/// </summary>
public sealed class DnsZone
{
    /// <summary>Longest CNAME chain chased inside the zone.</summary>
    public const int MaxChase = 16;

    private readonly Dictionary<string, List<DnsRecord>> _records = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _lock = new();

    /// <summary>Creates an empty zone; <paramref name="origin"/> names the SOA used in negative answers.</summary>
    public DnsZone(string origin = DnsName.Root) => Origin = origin == DnsName.Root ? origin : DnsName.Normalize(origin);

    /// <summary>Apex used for the synthesized SOA when no SOA record was added.</summary>
    public string Origin { get; }

    /// <summary>Adds a record (duplicates are kept once).</summary>
    public DnsZone Add(DnsRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        string key = Key(record.Name);
        lock (_lock)
        {
            if (!_records.TryGetValue(key, out List<DnsRecord>? list)) _records[key] = list = [];
            if (!list.Exists(r => r.Type == record.Type && r.FormatData() == record.FormatData())) list.Add(record);
        }
        return this;
    }

    /// <summary>Adds an A or AAAA record depending on the address family.</summary>
    public DnsZone AddAddress(string name, IPAddress address, uint ttl = 300) =>
        Add(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? new AaaaRecord(name, ttl, address) : new ARecord(name, ttl, address));

    /// <summary>Adds an A or AAAA record from the address text.</summary>
    public DnsZone AddAddress(string name, string address, uint ttl = 300) => AddAddress(name, IPAddress.Parse(address), ttl);

    /// <summary>Adds an MX record.</summary>
    public DnsZone AddMx(string name, ushort preference, string exchange, uint ttl = 300) => Add(new MxRecord(name, ttl, preference, exchange));

    /// <summary>Adds a TXT record, split into 255-octet strings as needed.</summary>
    public DnsZone AddTxt(string name, string text, uint ttl = 300) => Add(new TxtRecord(name, ttl, text));

    /// <summary>Adds a CNAME record.</summary>
    public DnsZone AddCname(string name, string target, uint ttl = 300) => Add(new CnameRecord(name, ttl, target));

    /// <summary>Adds the PTR record of an address.</summary>
    public DnsZone AddPtr(IPAddress address, string host, uint ttl = 300) => Add(new PtrRecord(DnsName.ReverseName(address), ttl, host));

    /// <summary>Removes the records of a name, of one type or all.</summary>
    public void Remove(string name, DnsRecordType? type = null)
    {
        string key = Key(name);
        lock (_lock)
        {
            if (!_records.TryGetValue(key, out List<DnsRecord>? list)) return;
            if (type is { } t) list.RemoveAll(r => r.Type == t);
            else list.Clear();
            if (list.Count == 0) _records.Remove(key);
        }
    }

    /// <summary>All records, for inspection.</summary>
    public IReadOnlyList<DnsRecord> Records
    {
        get
        {
            lock (_lock) return [.. _records.Values.SelectMany(l => l)];
        }
    }

    /// <summary>Answers one question: the outcome's RCODE, the answer records (with chased CNAMEs) and the SOA for negative answers.</summary>
    public (DnsResponseCode ResponseCode, List<DnsRecord> Answers, List<DnsRecord> Authorities) Lookup(string name, DnsRecordType type)
    {
        var answers = new List<DnsRecord>();
        string current = Key(name);
        lock (_lock)
        {
            for (int step = 0; step <= MaxChase; step++)
            {
                List<DnsRecord>? here = RecordsAt(current);
                if (here is not null)
                {
                    bool any = false;
                    foreach (DnsRecord r in here)
                        if (r.Type == type || type == DnsRecordType.ANY) { answers.Add(r); any = true; }
                    if (any) return (DnsResponseCode.NoError, answers, []);
                    CnameRecord? alias = here.OfType<CnameRecord>().FirstOrDefault();
                    if (alias is not null && type != DnsRecordType.CNAME)
                    {
                        // A looping chain is returned as far as it goes; the resolver detects the loop.
                        if (answers.Contains(alias)) return (DnsResponseCode.NoError, answers, []);
                        answers.Add(alias);
                        current = Key(alias.Target);
                        continue;
                    }
                    return (DnsResponseCode.NoError, answers, [Soa(current)]);
                }
                return (Exists(current) ? DnsResponseCode.NoError : DnsResponseCode.NXDomain, answers, [Soa(current)]);
            }
            return (DnsResponseCode.NoError, answers, []);
        }
    }

    /// <summary>Builds the authoritative response to a query message, as a DNS server would send it.</summary>
    public DnsMessage Answer(DnsMessage query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var response = new DnsMessage
        {
            Id = query.Id,
            IsResponse = true,
            Opcode = query.Opcode,
            RecursionDesired = query.RecursionDesired,
            RecursionAvailable = true,
            AuthoritativeAnswer = true,
            Questions = [.. query.Questions],
            Edns = query.Edns is null ? null : new DnsEdns { UdpPayloadSize = 1232, DnssecOk = query.Edns.DnssecOk },
        };
        if (query.Opcode != 0 || query.Questions.Count != 1)
        {
            response.ResponseCode = query.Opcode != 0 ? DnsResponseCode.NotImp : DnsResponseCode.FormErr;
            return response;
        }
        (DnsResponseCode rcode, List<DnsRecord> answers, List<DnsRecord> authorities) = Lookup(query.Questions[0].Name, query.Questions[0].Type);
        response.ResponseCode = rcode;
        response.Answers.AddRange(answers);
        response.Authorities.AddRange(authorities);
        return response;
    }

    /// <summary>Records at a name, or synthesized from a wildcard (RFC 4592 §3.3.1). Caller holds the lock.</summary>
    private List<DnsRecord>? RecordsAt(string name)
    {
        if (_records.TryGetValue(name, out List<DnsRecord>? list)) return list;
        if (Exists(name)) return null;
        // Closest encloser: the nearest existing ancestor; only its wildcard child applies.
        string ancestor = name;
        while (true)
        {
            int dot = ancestor.IndexOf('.', StringComparison.Ordinal);
            ancestor = dot < 0 ? DnsName.Root : ancestor[(dot + 1)..];
            string wildcard = ancestor == DnsName.Root ? "*" : "*." + ancestor;
            if (_records.TryGetValue(wildcard, out List<DnsRecord>? w))
                return [.. w.Select(r => Rename(r, name))];
            if (ancestor == DnsName.Root || Exists(ancestor)) return null;
        }
    }

    private bool Exists(string name)
    {
        if (_records.ContainsKey(name)) return true;
        string suffix = "." + name;
        foreach (string k in _records.Keys)
            if (k.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    private SoaRecord Soa(string name)
    {
        SoaRecord? best = null;
        foreach (List<DnsRecord> list in _records.Values)
            foreach (DnsRecord r in list)
                if (r is SoaRecord s && DnsName.IsSubdomainOf(name, s.Name) && (best is null || s.Name.Length > best.Name.Length))
                    best = s;
        return best ?? new SoaRecord(Origin, 300, "ns.invalid", "hostmaster.invalid", 1, 3600, 600, 86400, 300);
    }

    private static DnsRecord Rename(DnsRecord r, string owner)
    {
        var w = new DnsWireWriter();
        r.WriteData(w);
        byte[] data = w.ToArray();
        // Re-read the RDATA under the new owner name through the message reader's decoder.
        var m = new DnsMessage { IsResponse = true, Answers = { new UnknownRecord(owner, r.Type, r.Ttl, data) } };
        return DnsMessageReader.Read(DnsMessageWriter.Write(m)).Answers[0];
    }

    private static string Key(string name) => name == DnsName.Root ? name : DnsName.Normalize(name);
}
