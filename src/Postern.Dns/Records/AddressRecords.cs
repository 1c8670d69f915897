using System.Net;
using System.Net.Sockets;
using Postern.Dns.Wire;

namespace Postern.Dns;

/// <summary>An IPv4 address record (RFC 1035 §3.4.1).</summary>
public sealed class ARecord : DnsRecord
{
    /// <summary>Creates an A record.</summary>
    public ARecord(string name, uint ttl, IPAddress address) : base(name, DnsRecordType.A, ttl)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetwork) throw new ArgumentException("A records hold IPv4 addresses", nameof(address));
        Address = address;
    }

    /// <summary>The IPv4 address.</summary>
    public IPAddress Address { get; }

    /// <inheritdoc/>
    public override string FormatData() => Address.ToString();

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new ARecord(Name, ttl, Address);

    internal override void WriteData(DnsWireWriter writer) => writer.WriteAddress(Address);
}

/// <summary>An IPv6 address record (RFC 3596 §2.2).</summary>
public sealed class AaaaRecord : DnsRecord
{
    /// <summary>Creates an AAAA record.</summary>
    public AaaaRecord(string name, uint ttl, IPAddress address) : base(name, DnsRecordType.AAAA, ttl)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetworkV6) throw new ArgumentException("AAAA records hold IPv6 addresses", nameof(address));
        Address = address;
    }

    /// <summary>The IPv6 address.</summary>
    public IPAddress Address { get; }

    /// <inheritdoc/>
    public override string FormatData() => Address.ToString();

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new AaaaRecord(Name, ttl, Address);

    internal override void WriteData(DnsWireWriter writer) => writer.WriteAddress(Address);
}
