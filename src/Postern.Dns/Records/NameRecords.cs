using System.Globalization;
using Postern.Dns.Wire;

namespace Postern.Dns;

/// <summary>Base of the records whose data is a single domain name (NS, CNAME, PTR).</summary>
public abstract class SingleNameRecord : DnsRecord
{
    private protected SingleNameRecord(string name, DnsRecordType type, uint ttl, string target) : base(name, type, ttl)
    {
        ArgumentNullException.ThrowIfNull(target);
        Target = target.Length > 1 && target.EndsWith('.') ? target[..^1] : target;
    }

    /// <summary>The name the record points to.</summary>
    public string Target { get; }

    /// <inheritdoc/>
    public override string FormatData() => FormatName(Target);

    // RFC 3597 §4: names in the RDATA of RFC 1035 types may be compressed.
    internal override void WriteData(DnsWireWriter writer) => writer.WriteName(Target, compress: true);
}

/// <summary>An authoritative name server record (RFC 1035 §3.3.11).</summary>
public sealed class NsRecord(string name, uint ttl, string host) : SingleNameRecord(name, DnsRecordType.NS, ttl, host)
{
    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new NsRecord(Name, ttl, Target);
}

/// <summary>An alias (RFC 1035 §3.3.1): <see cref="DnsRecord.Name"/> is another name for <see cref="SingleNameRecord.Target"/>.</summary>
public sealed class CnameRecord(string name, uint ttl, string target) : SingleNameRecord(name, DnsRecordType.CNAME, ttl, target)
{
    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new CnameRecord(Name, ttl, Target);
}

/// <summary>A pointer record, used for reverse DNS (RFC 1035 §3.3.12).</summary>
public sealed class PtrRecord(string name, uint ttl, string host) : SingleNameRecord(name, DnsRecordType.PTR, ttl, host)
{
    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new PtrRecord(Name, ttl, Target);
}

/// <summary>A mail exchanger (RFC 1035 §3.3.9, RFC 5321 §5.1).</summary>
public sealed class MxRecord : DnsRecord
{
    /// <summary>Creates an MX record.</summary>
    public MxRecord(string name, uint ttl, ushort preference, string exchange) : base(name, DnsRecordType.MX, ttl)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        Preference = preference;
        Exchange = exchange.Length > 1 && exchange.EndsWith('.') ? exchange[..^1] : exchange;
    }

    /// <summary>Lower is preferred.</summary>
    public ushort Preference { get; }

    /// <summary>Host name of the mail server; "." is a null MX (RFC 7505).</summary>
    public string Exchange { get; }

    /// <inheritdoc/>
    public override string FormatData() => string.Create(CultureInfo.InvariantCulture, $"{Preference} {FormatName(Exchange)}");

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new MxRecord(Name, ttl, Preference, Exchange);

    internal override void WriteData(DnsWireWriter writer)
    {
        writer.WriteUInt16(Preference);
        writer.WriteName(Exchange, compress: true);
    }
}

/// <summary>A service location record (RFC 2782).</summary>
public sealed class SrvRecord : DnsRecord
{
    /// <summary>Creates an SRV record.</summary>
    public SrvRecord(string name, uint ttl, ushort priority, ushort weight, ushort port, string target) : base(name, DnsRecordType.SRV, ttl)
    {
        ArgumentNullException.ThrowIfNull(target);
        Priority = priority;
        Weight = weight;
        Port = port;
        Target = target.Length > 1 && target.EndsWith('.') ? target[..^1] : target;
    }

    /// <summary>Lower is tried first.</summary>
    public ushort Priority { get; }

    /// <summary>Relative weight among records of the same priority.</summary>
    public ushort Weight { get; }

    /// <summary>TCP or UDP port.</summary>
    public ushort Port { get; }

    /// <summary>Target host; "." means the service is not available.</summary>
    public string Target { get; }

    /// <inheritdoc/>
    public override string FormatData() => string.Create(CultureInfo.InvariantCulture, $"{Priority} {Weight} {Port} {FormatName(Target)}");

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new SrvRecord(Name, ttl, Priority, Weight, Port, Target);

    internal override void WriteData(DnsWireWriter writer)
    {
        writer.WriteUInt16(Priority);
        writer.WriteUInt16(Weight);
        writer.WriteUInt16(Port);
        writer.WriteName(Target, compress: false); // RFC 2782: no compression for the target.
    }
}

/// <summary>Start of a zone of authority (RFC 1035 §3.3.13); its minimum bounds negative caching (RFC 2308 §5).</summary>
public sealed class SoaRecord : DnsRecord
{
    /// <summary>Creates an SOA record.</summary>
    public SoaRecord(string name, uint ttl, string primaryServer, string responsibleMailbox, uint serial, uint refresh, uint retry, uint expire, uint minimum)
        : base(name, DnsRecordType.SOA, ttl)
    {
        ArgumentNullException.ThrowIfNull(primaryServer);
        ArgumentNullException.ThrowIfNull(responsibleMailbox);
        PrimaryServer = primaryServer.Length > 1 && primaryServer.EndsWith('.') ? primaryServer[..^1] : primaryServer;
        ResponsibleMailbox = responsibleMailbox.Length > 1 && responsibleMailbox.EndsWith('.') ? responsibleMailbox[..^1] : responsibleMailbox;
        Serial = serial;
        Refresh = refresh;
        Retry = retry;
        Expire = expire;
        Minimum = minimum;
    }

    /// <summary>MNAME: the primary name server.</summary>
    public string PrimaryServer { get; }

    /// <summary>RNAME: the mailbox of the responsible person, as a name.</summary>
    public string ResponsibleMailbox { get; }

    /// <summary>Zone serial number.</summary>
    public uint Serial { get; }

    /// <summary>Secondary refresh interval.</summary>
    public uint Refresh { get; }

    /// <summary>Secondary retry interval.</summary>
    public uint Retry { get; }

    /// <summary>Secondary expiry.</summary>
    public uint Expire { get; }

    /// <summary>Negative caching TTL (RFC 2308 §4).</summary>
    public uint Minimum { get; }

    /// <inheritdoc/>
    public override string FormatData() => string.Create(CultureInfo.InvariantCulture,
        $"{FormatName(PrimaryServer)} {FormatName(ResponsibleMailbox)} {Serial} {Refresh} {Retry} {Expire} {Minimum}");

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new SoaRecord(Name, ttl, PrimaryServer, ResponsibleMailbox, Serial, Refresh, Retry, Expire, Minimum);

    internal override void WriteData(DnsWireWriter writer)
    {
        writer.WriteName(PrimaryServer, compress: true);
        writer.WriteName(ResponsibleMailbox, compress: true);
        writer.WriteUInt32(Serial);
        writer.WriteUInt32(Refresh);
        writer.WriteUInt32(Retry);
        writer.WriteUInt32(Expire);
        writer.WriteUInt32(Minimum);
    }
}
