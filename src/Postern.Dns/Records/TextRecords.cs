using System.Globalization;
using System.Text;
using Postern.Dns.Wire;

namespace Postern.Dns;

/// <summary>A text record (RFC 1035 §3.3.14): one or more character-strings of up to 255 octets.</summary>
public sealed class TxtRecord : DnsRecord
{
    /// <summary>Creates a TXT record from its character-strings.</summary>
    public TxtRecord(string name, uint ttl, IReadOnlyList<byte[]> strings) : base(name, DnsRecordType.TXT, ttl)
    {
        ArgumentNullException.ThrowIfNull(strings);
        foreach (byte[] s in strings)
            if (s.Length > 255) throw new ArgumentException("a character-string holds at most 255 octets", nameof(strings));
        Strings = strings;
    }

    /// <summary>Creates a TXT record from text, split into 255-octet UTF-8 strings as needed.</summary>
    public TxtRecord(string name, uint ttl, string text) : this(name, ttl, Split(text)) { }

    /// <summary>The character-strings, as received.</summary>
    public IReadOnlyList<byte[]> Strings { get; }

    /// <summary>
    /// The strings concatenated without separator and decoded as UTF-8, as SPF (RFC 7208 §3.3)
    /// and DKIM (RFC 6376 §3.6.2.2) read them.
    /// </summary>
    public string Text
    {
        get
        {
            if (Strings.Count == 1) return Encoding.UTF8.GetString(Strings[0]);
            int total = 0;
            foreach (byte[] s in Strings) total += s.Length;
            byte[] all = new byte[total];
            int pos = 0;
            foreach (byte[] s in Strings) { s.CopyTo(all, pos); pos += s.Length; }
            return Encoding.UTF8.GetString(all);
        }
    }

    /// <inheritdoc/>
    public override string FormatData()
    {
        var sb = new StringBuilder();
        foreach (byte[] s in Strings)
        {
            if (sb.Length > 0) sb.Append(' ');
            AppendQuoted(sb, s);
        }
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new TxtRecord(Name, ttl, Strings);

    internal override void WriteData(DnsWireWriter writer)
    {
        foreach (byte[] s in Strings) writer.WriteCharacterString(s);
    }

    internal static void AppendQuoted(StringBuilder sb, ReadOnlySpan<byte> s)
    {
        sb.Append('"');
        foreach (byte b in s)
        {
            if (b is (byte)'"' or (byte)'\\') sb.Append('\\').Append((char)b);
            else if (b is >= 0x20 and < 0x7F) sb.Append((char)b);
            else sb.Append('\\').Append(b.ToString("D3", CultureInfo.InvariantCulture));
        }
        sb.Append('"');
    }

    private static byte[][] Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] all = Encoding.UTF8.GetBytes(text);
        if (all.Length == 0) return [[]];
        var parts = new byte[(all.Length + 254) / 255][];
        for (int i = 0; i < parts.Length; i++)
            parts[i] = all.AsSpan(i * 255, Math.Min(255, all.Length - i * 255)).ToArray();
        return parts;
    }
}

/// <summary>A certification authority authorization record (RFC 8659 §4.1).</summary>
public sealed class CaaRecord : DnsRecord
{
    /// <summary>Creates a CAA record.</summary>
    public CaaRecord(string name, uint ttl, byte flags, string tag, byte[] value) : base(name, DnsRecordType.CAA, ttl)
    {
        ArgumentNullException.ThrowIfNull(tag);
        ArgumentNullException.ThrowIfNull(value);
        // RFC 8659 §4.1: the tag is 1-255 ASCII letters and digits.
        if (tag.Length is 0 or > 255 || !tag.All(char.IsAsciiLetterOrDigit)) throw new ArgumentException("invalid CAA tag", nameof(tag));
        Flags = flags;
        Tag = tag;
        Value = value;
    }

    /// <summary>Flags; bit 128 is "issuer critical".</summary>
    public byte Flags { get; }

    /// <summary>Property tag: issue, issuewild, iodef, ...</summary>
    public string Tag { get; }

    /// <summary>Property value, as received.</summary>
    public byte[] Value { get; }

    /// <summary>Whether the issuer-critical flag is set (RFC 8659 §4.1).</summary>
    public bool IsCritical => (Flags & 0x80) != 0;

    /// <summary>The value as text (ASCII/UTF-8).</summary>
    public string ValueText => Encoding.UTF8.GetString(Value);

    /// <inheritdoc/>
    public override string FormatData()
    {
        var sb = new StringBuilder();
        sb.Append(Flags.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(Tag).Append(' ');
        TxtRecord.AppendQuoted(sb, Value);
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new CaaRecord(Name, ttl, Flags, Tag, Value);

    internal override void WriteData(DnsWireWriter writer)
    {
        writer.WriteByte(Flags);
        writer.WriteByte((byte)Tag.Length);
        writer.WriteBytes(Encoding.ASCII.GetBytes(Tag));
        writer.WriteBytes(Value);
    }
}

/// <summary>A record of a type this library does not decode; data kept as bytes (RFC 3597).</summary>
public sealed class UnknownRecord : DnsRecord
{
    /// <summary>Creates a record with opaque data.</summary>
    public UnknownRecord(string name, DnsRecordType type, uint ttl, byte[] data, DnsClass @class = DnsClass.IN) : base(name, type, ttl, @class)
    {
        ArgumentNullException.ThrowIfNull(data);
        Data = data;
    }

    /// <summary>The RDATA.</summary>
    public byte[] Data { get; }

    /// <inheritdoc/>
    public override string FormatData() =>
        Data.Length == 0 ? @"\# 0" : string.Create(CultureInfo.InvariantCulture, $@"\# {Data.Length} {Convert.ToHexString(Data)}"); // RFC 3597 §5

    /// <inheritdoc/>
    public override DnsRecord WithTtl(uint ttl) => new UnknownRecord(Name, Type, ttl, Data, Class);

    internal override void WriteData(DnsWireWriter writer) => writer.WriteBytes(Data);
}
