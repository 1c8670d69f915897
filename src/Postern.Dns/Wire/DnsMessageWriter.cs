namespace Postern.Dns.Wire;

/// <summary>Serialises <see cref="DnsMessage"/>s into wire format (RFC 1035 §4.1).</summary>
public static class DnsMessageWriter
{
    /// <summary>Writes a complete message, compressing names where RFC 3597 §4 allows.</summary>
    /// <exception cref="InvalidOperationException">The message would exceed 65,535 octets.</exception>
    public static byte[] Write(DnsMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var w = new DnsWireWriter();
        w.WriteUInt16(message.Id);
        w.WriteUInt16(message.EncodeFlags());
        w.WriteUInt16(checked((ushort)message.Questions.Count));
        w.WriteUInt16(checked((ushort)message.Answers.Count));
        w.WriteUInt16(checked((ushort)message.Authorities.Count));
        w.WriteUInt16(checked((ushort)(message.Additionals.Count + (message.Edns is null ? 0 : 1))));
        foreach (DnsQuestion q in message.Questions)
        {
            w.WriteName(q.Name, compress: true);
            w.WriteUInt16((ushort)q.Type);
            w.WriteUInt16((ushort)q.Class);
        }
        foreach (DnsRecord r in message.Answers) WriteRecord(w, r);
        foreach (DnsRecord r in message.Authorities) WriteRecord(w, r);
        foreach (DnsRecord r in message.Additionals) WriteRecord(w, r);
        if (message.Edns is { } edns) WriteOpt(w, edns, message.ResponseCode);
        return w.ToArray();
    }

    /// <summary>Builds a standard recursive query with an OPT record (RFC 6891) and the DO bit (RFC 3225).</summary>
    public static byte[] BuildQuery(ushort id, string name, DnsRecordType type, ushort udpPayloadSize = 1232, bool dnssecOk = true, bool checkingDisabled = false)
    {
        var message = new DnsMessage
        {
            Id = id,
            RecursionDesired = true,
            // RFC 6840 §5.7: AD in a query asks for the AD bit in the response.
            AuthenticData = true,
            CheckingDisabled = checkingDisabled,
            Questions = { new DnsQuestion(name, type) },
            Edns = new DnsEdns { UdpPayloadSize = udpPayloadSize, DnssecOk = dnssecOk },
        };
        return Write(message);
    }

    private static void WriteRecord(DnsWireWriter w, DnsRecord r)
    {
        w.WriteName(r.Name, compress: true);
        w.WriteUInt16((ushort)r.Type);
        w.WriteUInt16((ushort)r.Class);
        w.WriteUInt32(r.Ttl);
        int lengthAt = w.Position;
        w.WriteUInt16(0);
        r.WriteData(w);
        w.PatchUInt16(lengthAt, checked((ushort)(w.Position - lengthAt - 2)));
    }

    private static void WriteOpt(DnsWireWriter w, DnsEdns edns, DnsResponseCode rcode)
    {
        // RFC 6891 §6.1.2-§6.1.3: root owner, CLASS = payload size, TTL = ext-rcode|version|DO|Z.
        w.WriteByte(0);
        w.WriteUInt16((ushort)DnsRecordType.OPT);
        w.WriteUInt16(edns.UdpPayloadSize);
        byte extended = (byte)(((ushort)rcode >> 4) != 0 ? (ushort)rcode >> 4 : edns.ExtendedResponseCode);
        w.WriteUInt32((uint)extended << 24 | (uint)edns.Version << 16 | (edns.DnssecOk ? 0x8000u : 0u));
        int lengthAt = w.Position;
        w.WriteUInt16(0);
        foreach (EdnsOption o in edns.Options)
        {
            w.WriteUInt16(o.Code);
            w.WriteUInt16(checked((ushort)o.Data.Length));
            w.WriteBytes(o.Data);
        }
        w.PatchUInt16(lengthAt, checked((ushort)(w.Position - lengthAt - 2)));
    }
}
