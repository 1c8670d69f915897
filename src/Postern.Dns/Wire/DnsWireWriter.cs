using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Postern.Dns.Wire;

/// <summary>
/// Appends DNS wire data to a growing buffer capped at 65,535 octets, compressing names
/// (RFC 1035 §4.1.4) against the suffixes already written.
/// </summary>
internal sealed class DnsWireWriter
{
    private byte[] _buffer;
    private readonly Dictionary<string, int> _suffixOffsets = new(StringComparer.Ordinal);

    public DnsWireWriter(int initialCapacity = 512) => _buffer = new byte[initialCapacity];

    public int Position { get; private set; }

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, Position);

    public byte[] ToArray() => _buffer.AsSpan(0, Position).ToArray();

    public void WriteByte(byte value) => Reserve(1)[0] = value;

    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Reserve(2), value);

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Reserve(4), value);

    public void WriteBytes(ReadOnlySpan<byte> data) => data.CopyTo(Reserve(data.Length));

    public void PatchUInt16(int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(offset, 2), value);

    public void WriteAddress(IPAddress address)
    {
        Span<byte> span = stackalloc byte[16];
        if (!address.TryWriteBytes(span, out int n)) throw new InvalidOperationException("address does not fit");
        WriteBytes(span[..n]);
    }

    public void WriteCharacterString(ReadOnlySpan<byte> s)
    {
        if (s.Length > 255) throw new InvalidOperationException("character-string longer than 255 octets");
        WriteByte((byte)s.Length);
        WriteBytes(s);
    }

    /// <summary>Writes a name; with <paramref name="compress"/>, reuses a suffix written earlier.</summary>
    public void WriteName(string name, bool compress)
    {
        Span<byte> wire = stackalloc byte[DnsName.MaxWireLength];
        if (!DnsName.TryEncode(name, wire, out int length, out string? error))
            throw new ArgumentException($"cannot encode name \"{name}\": {error}", nameof(name));
        int pos = 0;
        while (wire[pos] != 0)
        {
            string key = SuffixKey(wire[pos..length]);
            if (compress && _suffixOffsets.TryGetValue(key, out int target))
            {
                WriteUInt16((ushort)(0xC000 | target));
                return;
            }
            // Pointers have 14 bits (RFC 1035 §4.1.4).
            if (Position < 0x3FFF) _suffixOffsets.TryAdd(key, Position);
            int labelLength = wire[pos];
            WriteBytes(wire.Slice(pos, labelLength + 1));
            pos += labelLength + 1;
        }
        WriteByte(0);
    }

    private static string SuffixKey(ReadOnlySpan<byte> wire)
    {
        // Names compare case-insensitively (RFC 4343), so the key folds ASCII case.
        Span<char> chars = stackalloc char[wire.Length];
        for (int i = 0; i < wire.Length; i++)
        {
            byte b = wire[i];
            chars[i] = (char)(b is >= (byte)'A' and <= (byte)'Z' ? b + 32 : b);
        }
        return new string(chars);
    }

    private Span<byte> Reserve(int count)
    {
        if (Position + count > DnsMessageReader.MaxMessageSize)
            throw new InvalidOperationException("DNS message would exceed 65535 octets");
        if (Position + count > _buffer.Length)
            Array.Resize(ref _buffer, Math.Min(DnsMessageReader.MaxMessageSize, Math.Max(_buffer.Length * 2, Position + count)));
        Span<byte> span = _buffer.AsSpan(Position, count);
        Position += count;
        return span;
    }

    internal static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);
}
