// Reads DNS messages from untrusted bytes. Every read is bounds-checked against the
// message (and, inside RDATA, against the record's RDLENGTH); a failure is a typed
// DnsFormatException, never an IndexOutOfRange or a hang. Compression pointers must
// point strictly before the label that holds them, which makes loops impossible; a hop
// count bounds the work anyway. Counts in the header are capped before anything is
// allocated for them.
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text;

namespace Postern.Dns.Wire;

/// <summary>Parses DNS wire-format messages (RFC 1035 §4.1) with strict limits.</summary>
public static class DnsMessageReader
{
    /// <summary>Largest DNS message (the TCP length prefix is 16 bits, RFC 1035 §4.2.2).</summary>
    public const int MaxMessageSize = 65535;

    /// <summary>Most questions accepted in one message (real ones carry exactly one).</summary>
    public const int MaxQuestions = 4;

    /// <summary>Most records accepted over the answer, authority and additional sections.</summary>
    public const int MaxRecords = 4096;

    /// <summary>Most compression pointers followed while reading one name.</summary>
    public const int MaxPointerHops = 64;

    private const int HeaderSize = 12;

    /// <summary>Parses a message.</summary>
    /// <exception cref="DnsFormatException">The message is malformed, truncated or over a limit.</exception>
    public static DnsMessage Read(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxMessageSize) Fail(DnsFormatError.TooLarge, "message larger than 65535 octets");
        if (data.Length < HeaderSize) Fail(DnsFormatError.Truncated, "message shorter than the 12-octet header");
        var m = new DnsMessage { Id = BinaryPrimitives.ReadUInt16BigEndian(data) };
        m.DecodeFlags(BinaryPrimitives.ReadUInt16BigEndian(data[2..]));
        int qd = BinaryPrimitives.ReadUInt16BigEndian(data[4..]);
        int an = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
        int ns = BinaryPrimitives.ReadUInt16BigEndian(data[8..]);
        int ar = BinaryPrimitives.ReadUInt16BigEndian(data[10..]);
        if (qd > MaxQuestions) Fail(DnsFormatError.TooManyRecords, $"{qd} questions");
        if (an + ns + ar > MaxRecords) Fail(DnsFormatError.TooManyRecords, $"{an + ns + ar} records");
        // Each record takes at least 11 octets: a count the message cannot hold is a lie.
        if ((long)(an + ns + ar) * 11 + qd * 5 > data.Length - HeaderSize) Fail(DnsFormatError.Truncated, "record counts exceed the message size");

        int pos = HeaderSize;
        for (int i = 0; i < qd; i++)
        {
            string name = ReadName(data, ref pos, data.Length);
            Need(data.Length, pos, 4);
            var type = (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(data[pos..]);
            var cls = (DnsClass)BinaryPrimitives.ReadUInt16BigEndian(data[(pos + 2)..]);
            pos += 4;
            m.Questions.Add(new DnsQuestion(name, type, cls));
        }
        ReadSection(data, ref pos, an, m.Answers, m, allowOpt: false);
        ReadSection(data, ref pos, ns, m.Authorities, m, allowOpt: false);
        ReadSection(data, ref pos, ar, m.Additionals, m, allowOpt: true);
        return m;
    }

    /// <summary>Parses a message, returning false and the error instead of throwing.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, [NotNullWhen(true)] out DnsMessage? message, [NotNullWhen(false)] out DnsFormatException? error)
    {
        try
        {
            message = Read(data);
            error = null;
            return true;
        }
        catch (DnsFormatException e)
        {
            message = null;
            error = e;
            return false;
        }
    }

    private static void ReadSection(ReadOnlySpan<byte> data, ref int pos, int count, List<DnsRecord> into, DnsMessage m, bool allowOpt)
    {
        for (int i = 0; i < count; i++)
        {
            string name = ReadName(data, ref pos, data.Length);
            Need(data.Length, pos, 10);
            var type = (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(data[pos..]);
            ushort cls = BinaryPrimitives.ReadUInt16BigEndian(data[(pos + 2)..]);
            uint ttl = BinaryPrimitives.ReadUInt32BigEndian(data[(pos + 4)..]);
            int rdLength = BinaryPrimitives.ReadUInt16BigEndian(data[(pos + 8)..]);
            pos += 10;
            Need(data.Length, pos, rdLength);
            int end = pos + rdLength;
            if (type == DnsRecordType.OPT)
            {
                // RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
                if (!allowOpt || m.Edns is not null || name != DnsName.Root) Fail(DnsFormatError.BadEdns, "misplaced or duplicate OPT record");
                m.Edns = ReadOpt(data[pos..end], cls, ttl);
                m.ResponseCode = (DnsResponseCode)(m.Edns.ExtendedResponseCode << 4 | (int)m.ResponseCode);
            }
            else
            {
                into.Add(ReadRecordData(data, pos, end, name, type, (DnsClass)cls, ttl));
            }
            pos = end;
        }
    }

    private static DnsEdns ReadOpt(ReadOnlySpan<byte> rdata, ushort cls, uint ttl)
    {
        var edns = new DnsEdns
        {
            UdpPayloadSize = cls,
            ExtendedResponseCode = (byte)(ttl >> 24),
            Version = (byte)(ttl >> 16),
            DnssecOk = (ttl & 0x8000) != 0,
        };
        int p = 0;
        while (p < rdata.Length)
        {
            if (rdata.Length - p < 4) Fail(DnsFormatError.BadEdns, "truncated EDNS option");
            ushort code = BinaryPrimitives.ReadUInt16BigEndian(rdata[p..]);
            int len = BinaryPrimitives.ReadUInt16BigEndian(rdata[(p + 2)..]);
            p += 4;
            if (rdata.Length - p < len) Fail(DnsFormatError.BadEdns, "truncated EDNS option");
            edns.Options.Add(new EdnsOption(code, rdata.Slice(p, len).ToArray()));
            p += len;
        }
        return edns;
    }

    private static DnsRecord ReadRecordData(ReadOnlySpan<byte> data, int pos, int end, string name, DnsRecordType type, DnsClass cls, uint ttl)
    {
        ReadOnlySpan<byte> rd = data[pos..end];
        if (cls != DnsClass.IN) return new UnknownRecord(name, type, ttl, rd.ToArray(), cls);
        switch (type)
        {
            case DnsRecordType.A:
                if (rd.Length != 4) BadData(type);
                return new ARecord(name, ttl, new IPAddress(rd));
            case DnsRecordType.AAAA:
                if (rd.Length != 16) BadData(type);
                return new AaaaRecord(name, ttl, new IPAddress(rd));
            case DnsRecordType.NS:
                return new NsRecord(name, ttl, ReadOnlyName(data, pos, end, type));
            case DnsRecordType.CNAME:
                return new CnameRecord(name, ttl, ReadOnlyName(data, pos, end, type));
            case DnsRecordType.PTR:
                return new PtrRecord(name, ttl, ReadOnlyName(data, pos, end, type));
            case DnsRecordType.MX:
            {
                if (rd.Length < 3) BadData(type);
                ushort pref = BinaryPrimitives.ReadUInt16BigEndian(rd);
                return new MxRecord(name, ttl, pref, ReadOnlyName(data, pos + 2, end, type));
            }
            case DnsRecordType.SRV:
            {
                if (rd.Length < 7) BadData(type);
                return new SrvRecord(name, ttl, BinaryPrimitives.ReadUInt16BigEndian(rd), BinaryPrimitives.ReadUInt16BigEndian(rd[2..]),
                    BinaryPrimitives.ReadUInt16BigEndian(rd[4..]), ReadOnlyName(data, pos + 6, end, type));
            }
            case DnsRecordType.SOA:
            {
                int p = pos;
                string mname = ReadName(data, ref p, end);
                string rname = ReadName(data, ref p, end);
                if (end - p != 20) BadData(type);
                ReadOnlySpan<byte> n = data[p..end];
                return new SoaRecord(name, ttl, mname, rname, BinaryPrimitives.ReadUInt32BigEndian(n), BinaryPrimitives.ReadUInt32BigEndian(n[4..]),
                    BinaryPrimitives.ReadUInt32BigEndian(n[8..]), BinaryPrimitives.ReadUInt32BigEndian(n[12..]), BinaryPrimitives.ReadUInt32BigEndian(n[16..]));
            }
            case DnsRecordType.TXT:
            {
                // RFC 1035 §3.3.14: one or more <character-string>s filling the RDATA exactly.
                if (rd.Length == 0) BadData(type);
                var strings = new List<byte[]>(1);
                int p = 0;
                while (p < rd.Length)
                {
                    int len = rd[p++];
                    if (rd.Length - p < len) BadData(type);
                    strings.Add(rd.Slice(p, len).ToArray());
                    p += len;
                }
                return new TxtRecord(name, ttl, strings);
            }
            case DnsRecordType.TLSA:
                if (rd.Length < 3) BadData(type);
                return new TlsaRecord(name, ttl, rd[0], rd[1], rd[2], rd[3..].ToArray());
            case DnsRecordType.CAA:
            {
                // RFC 8659 §4.1: flags, tag length (1-255), tag, value.
                if (rd.Length < 2) BadData(type);
                int tagLength = rd[1];
                if (tagLength == 0 || rd.Length - 2 < tagLength) BadData(type);
                ReadOnlySpan<byte> tag = rd.Slice(2, tagLength);
                foreach (byte b in tag) if (!char.IsAsciiLetterOrDigit((char)b)) BadData(type);
                return new CaaRecord(name, ttl, rd[0], Encoding.ASCII.GetString(tag), rd[(2 + tagLength)..].ToArray());
            }
            case DnsRecordType.DS:
                if (rd.Length < 4) BadData(type);
                return new DsRecord(name, ttl, BinaryPrimitives.ReadUInt16BigEndian(rd), rd[2], rd[3], rd[4..].ToArray());
            case DnsRecordType.DNSKEY:
                if (rd.Length < 4) BadData(type);
                return new DnskeyRecord(name, ttl, BinaryPrimitives.ReadUInt16BigEndian(rd), rd[2], rd[3], rd[4..].ToArray());
            case DnsRecordType.RRSIG:
            {
                if (rd.Length < 19) BadData(type);
                int p = pos + 18;
                string signer = ReadName(data, ref p, end);
                return new RrsigRecord(name, ttl, (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(rd), rd[2], rd[3],
                    BinaryPrimitives.ReadUInt32BigEndian(rd[4..]), BinaryPrimitives.ReadUInt32BigEndian(rd[8..]),
                    BinaryPrimitives.ReadUInt32BigEndian(rd[12..]), BinaryPrimitives.ReadUInt16BigEndian(rd[16..]),
                    signer, data[p..end].ToArray());
            }
            default:
                return new UnknownRecord(name, type, ttl, rd.ToArray());
        }
    }

    /// <summary>Reads a name that must fill the rest of the RDATA exactly.</summary>
    private static string ReadOnlyName(ReadOnlySpan<byte> data, int pos, int end, DnsRecordType type)
    {
        string n = ReadName(data, ref pos, end);
        if (pos != end) BadData(type);
        return n;
    }

    /// <summary>
    /// Reads a possibly compressed name starting at <paramref name="pos"/>; labels in place
    /// must end before <paramref name="limit"/>, pointers may target anything earlier.
    /// </summary>
    internal static string ReadName(ReadOnlySpan<byte> data, ref int pos, int limit)
    {
        Span<byte> wire = stackalloc byte[DnsName.MaxWireLength];
        int wireLength = 0;
        int p = pos;
        int hops = 0;
        int resumeAt = -1;
        int currentLimit = limit;
        // Lowest offset reached so far: a pointer must go strictly below it (RFC 1035 §4.1.4
        // "a prior occurrence"), so following pointers always terminates.
        int floor = p;
        while (true)
        {
            if (p >= currentLimit) Fail(DnsFormatError.Truncated, "name runs past the end of its data");
            byte len = data[p];
            switch (len & 0xC0)
            {
                case 0x00:
                    if (len == 0)
                    {
                        pos = resumeAt >= 0 ? resumeAt : p + 1;
                        return Present(wire[..wireLength]);
                    }
                    if (currentLimit - p - 1 < len) Fail(DnsFormatError.Truncated, "label runs past the end of its data");
                    // +1 for the root label that ends every name (RFC 1035 §3.1).
                    if (wireLength + 1 + len + 1 > DnsName.MaxWireLength) Fail(DnsFormatError.NameTooLong, "name longer than 255 octets");
                    data.Slice(p, len + 1).CopyTo(wire[wireLength..]);
                    wireLength += len + 1;
                    p += len + 1;
                    break;
                case 0xC0:
                {
                    if (currentLimit - p < 2) Fail(DnsFormatError.Truncated, "compression pointer cut short");
                    int target = (len & 0x3F) << 8 | data[p + 1];
                    if (target >= floor) Fail(DnsFormatError.BadCompressionPointer, "compression pointer does not point backwards");
                    if (++hops > MaxPointerHops) Fail(DnsFormatError.BadCompressionPointer, "too many compression pointers");
                    if (resumeAt < 0) resumeAt = p + 2;
                    floor = target;
                    p = target;
                    // Pointed-to labels lie earlier in the message; they end at most at the old floor.
                    currentLimit = data.Length;
                    break;
                }
                default:
                    // RFC 6891 §5: extended label types 0x40 and 0x80 are not in use.
                    Fail(DnsFormatError.BadLabelType, "reserved label type");
                    break;
            }
        }
    }

    /// <summary>Presentation form of an uncompressed wire name without its root label.</summary>
    internal static string Present(ReadOnlySpan<byte> wire)
    {
        if (wire.Length == 0) return DnsName.Root;
        // Fast path: plain host-name characters need no escaping.
        bool plain = true;
        int chars = wire.Length - 1;
        for (int i = 0; i < wire.Length && plain;)
        {
            int len = wire[i];
            for (int j = i + 1; j <= i + len; j++)
            {
                byte b = wire[j];
                if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'_' or (byte)'*' or (byte)'/')) { plain = false; break; }
            }
            i += len + 1;
        }
        if (plain)
        {
            return string.Create(chars, wire.ToArray(), static (span, w) =>
            {
                int o = 0;
                for (int i = 0; i < w.Length;)
                {
                    int len = w[i];
                    if (i > 0) span[o++] = '.';
                    for (int j = i + 1; j <= i + len; j++) span[o++] = (char)w[j];
                    i += len + 1;
                }
            });
        }
        var sb = new StringBuilder(chars + 16);
        for (int i = 0; i < wire.Length;)
        {
            int len = wire[i];
            if (i > 0) sb.Append('.');
            DnsName.AppendLabel(sb, wire.Slice(i + 1, len));
            i += len + 1;
        }
        return sb.ToString();
    }

    private static void Need(int length, int pos, int count)
    {
        if (length - pos < count) Fail(DnsFormatError.Truncated, "message ends in the middle of a record");
    }

    [DoesNotReturn]
    private static void BadData(DnsRecordType type) =>
        throw new DnsFormatException(DnsFormatError.BadRecordData, $"malformed {DnsRecord.FormatType(type)} record data");

    [DoesNotReturn]
    private static void Fail(DnsFormatError error, string message) => throw new DnsFormatException(error, message);
}
