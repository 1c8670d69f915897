using System.Globalization;
using Postern.Dns.Wire;

namespace Postern.Dns;

/// <summary>A resource record (RFC 1035 §3.2.1): owner name, type, class, TTL and typed data.</summary>
/// <remarks>Subclasses carry the decoded data of each type; <see cref="ToString"/> gives the
/// zone-file form ("example.com. 300 IN MX 10 mail.example.com.").</remarks>
public abstract class DnsRecord
{
    /// <summary>Creates a record.</summary>
    protected DnsRecord(string name, DnsRecordType type, uint ttl, DnsClass @class = DnsClass.IN)
    {
        ArgumentNullException.ThrowIfNull(name);
        Name = name.Length > 1 && name.EndsWith('.') && !name.EndsWith("\\.", StringComparison.Ordinal) ? name[..^1] : name;
        Type = type;
        Ttl = ttl;
        Class = @class;
    }

    /// <summary>Owner name, presentation format without trailing dot.</summary>
    public string Name { get; }

    /// <summary>Record type.</summary>
    public DnsRecordType Type { get; }

    /// <summary>Record class, normally <see cref="DnsClass.IN"/>.</summary>
    public DnsClass Class { get; }

    /// <summary>Time to live in seconds, as received.</summary>
    public uint Ttl { get; }

    /// <summary>The record data in zone-file syntax (RFC 1035 §5.1).</summary>
    public abstract string FormatData();

    /// <summary>Returns a copy with another TTL (used by caches to report remaining lifetime).</summary>
    public abstract DnsRecord WithTtl(uint ttl);

    /// <summary>Writes the RDATA (without the length prefix).</summary>
    internal abstract void WriteData(DnsWireWriter writer);

    /// <summary>The record as one zone-file line.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{FormatName(Name)} {Ttl} {FormatClass(Class)} {FormatType(Type)} {FormatData()}");

    /// <summary>Absolute (dotted) form of a name for zone-file output.</summary>
    protected static string FormatName(string name) => name == DnsName.Root ? "." : name + ".";

    /// <summary>Type mnemonic, or TYPEnnn (RFC 3597 §5) for unknown types.</summary>
    public static string FormatType(DnsRecordType type) =>
        Enum.IsDefined(type) ? type.ToString() : "TYPE" + ((ushort)type).ToString(CultureInfo.InvariantCulture);

    private static string FormatClass(DnsClass c) =>
        Enum.IsDefined(c) ? c.ToString() : "CLASS" + ((ushort)c).ToString(CultureInfo.InvariantCulture);

    /// <summary>Parses a type mnemonic ("MX", "mx", "TYPE99").</summary>
    public static bool TryParseType(string text, out DnsRecordType type)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.StartsWith("TYPE", StringComparison.OrdinalIgnoreCase) && ushort.TryParse(text.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out ushort n))
        {
            type = (DnsRecordType)n;
            return true;
        }
        if (!text.All(char.IsAsciiLetterOrDigit) || char.IsAsciiDigit(text[0]) || !Enum.TryParse(text, ignoreCase: true, out type))
        {
            type = default;
            return false;
        }
        return Enum.IsDefined(type);
    }
}
