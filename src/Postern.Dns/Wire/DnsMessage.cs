namespace Postern.Dns.Wire;

/// <summary>One question of a DNS message (RFC 1035 §4.1.2).</summary>
/// <param name="Name">Queried name, presentation format without trailing dot.</param>
/// <param name="Type">Queried type.</param>
/// <param name="Class">Queried class.</param>
public sealed record DnsQuestion(string Name, DnsRecordType Type, DnsClass Class = DnsClass.IN);

/// <summary>An EDNS option (RFC 6891 §6.1.2).</summary>
/// <param name="Code">Option code.</param>
/// <param name="Data">Option data.</param>
public sealed record EdnsOption(ushort Code, byte[] Data);

/// <summary>The EDNS0 OPT pseudo-record of a message (RFC 6891 §6.1).</summary>
public sealed class DnsEdns
{
    /// <summary>Option code of Extended DNS Errors (RFC 8914 §2).</summary>
    public const ushort ExtendedErrorOptionCode = 15;

    /// <summary>Largest UDP payload the sender can reassemble.</summary>
    public ushort UdpPayloadSize { get; set; } = 1232;

    /// <summary>Upper 8 bits of the 12-bit response code.</summary>
    public byte ExtendedResponseCode { get; set; }

    /// <summary>EDNS version; only 0 exists.</summary>
    public byte Version { get; set; }

    /// <summary>The DO bit: the sender wants DNSSEC records (RFC 3225).</summary>
    public bool DnssecOk { get; set; }

    /// <summary>Options, in message order.</summary>
    public List<EdnsOption> Options { get; init; } = [];

    /// <summary>The Extended DNS Errors among <see cref="Options"/> (RFC 8914).</summary>
    public IReadOnlyList<ExtendedDnsError> ExtendedErrors
    {
        get
        {
            List<ExtendedDnsError>? list = null;
            foreach (EdnsOption o in Options)
                if (o.Code == ExtendedErrorOptionCode && ExtendedDnsError.TryDecode(o.Data, out ExtendedDnsError? e))
                    (list ??= []).Add(e);
            return list ?? (IReadOnlyList<ExtendedDnsError>)[];
        }
    }
}

/// <summary>A DNS message (RFC 1035 §4.1): header, question and the three record sections.</summary>
/// <remarks>The OPT pseudo-record is not kept in <see cref="Additionals"/> but in <see cref="Edns"/>.</remarks>
public sealed class DnsMessage
{
    /// <summary>Message id matching a response to its query.</summary>
    public ushort Id { get; set; }

    /// <summary>QR: this is a response.</summary>
    public bool IsResponse { get; set; }

    /// <summary>Opcode; 0 is a standard query.</summary>
    public byte Opcode { get; set; }

    /// <summary>AA: the answer comes from an authoritative server.</summary>
    public bool AuthoritativeAnswer { get; set; }

    /// <summary>TC: the message was truncated to fit UDP.</summary>
    public bool Truncated { get; set; }

    /// <summary>RD: recursion desired.</summary>
    public bool RecursionDesired { get; set; }

    /// <summary>RA: recursion available.</summary>
    public bool RecursionAvailable { get; set; }

    /// <summary>AD: the resolver validated all answer and authority data with DNSSEC (RFC 4035 §3.2.3).</summary>
    public bool AuthenticData { get; set; }

    /// <summary>CD: checking disabled (RFC 4035 §3.2.2).</summary>
    public bool CheckingDisabled { get; set; }

    /// <summary>Response code, including the EDNS extended bits.</summary>
    public DnsResponseCode ResponseCode { get; set; }

    /// <summary>Question section.</summary>
    public List<DnsQuestion> Questions { get; init; } = [];

    /// <summary>Answer section.</summary>
    public List<DnsRecord> Answers { get; init; } = [];

    /// <summary>Authority section.</summary>
    public List<DnsRecord> Authorities { get; init; } = [];

    /// <summary>Additional section, without the OPT record.</summary>
    public List<DnsRecord> Additionals { get; init; } = [];

    /// <summary>EDNS information, or null when the message had no OPT record.</summary>
    public DnsEdns? Edns { get; set; }

    internal ushort EncodeFlags()
    {
        int f = 0;
        if (IsResponse) f |= 0x8000;
        f |= (Opcode & 0xF) << 11;
        if (AuthoritativeAnswer) f |= 0x0400;
        if (Truncated) f |= 0x0200;
        if (RecursionDesired) f |= 0x0100;
        if (RecursionAvailable) f |= 0x0080;
        if (AuthenticData) f |= 0x0020;
        if (CheckingDisabled) f |= 0x0010;
        f |= (int)ResponseCode & 0xF;
        return (ushort)f;
    }

    internal void DecodeFlags(ushort f)
    {
        IsResponse = (f & 0x8000) != 0;
        Opcode = (byte)((f >> 11) & 0xF);
        AuthoritativeAnswer = (f & 0x0400) != 0;
        Truncated = (f & 0x0200) != 0;
        RecursionDesired = (f & 0x0100) != 0;
        RecursionAvailable = (f & 0x0080) != 0;
        AuthenticData = (f & 0x0020) != 0;
        CheckingDisabled = (f & 0x0010) != 0;
        ResponseCode = (DnsResponseCode)(f & 0xF);
    }
}
