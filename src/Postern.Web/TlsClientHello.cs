// Reads the server name (SNI) and the offered ALPN protocols from a TLS ClientHello before the
// handshake, so that an ACME tls-alpn-01 validation (RFC 8737) on port 443 can be told apart
// from an ordinary HTTPS connection: .NET's SslClientHelloInfo carries the SNI but not the ALPN
// list, and the validation certificate must be chosen by both.
//
// Layout (RFC 8446 §5.1 records, §4.1.2 ClientHello; RFC 5246 §7.4.1.2 for TLS 1.2):
//   record:      type(1)=22 handshake, legacy_version(2), length(2), fragment
//   handshake:   msg_type(1)=1 client_hello, length(3), body (may span several records)
//   body:        legacy_version(2), random(32), session_id<0..32>, cipher_suites<2..2^16-2>,
//                compression_methods<1..2^8-1>, extensions<8..2^16-1>
//   server_name (RFC 6066 §3) type 0: list<1..2^16-1> of (name_type(1)=0 host_name, name<1..2^16-1>)
//   ALPN (RFC 7301 §3.1) type 16: list<2..2^16-1> of protocol names <1..2^8-1>
using System.Buffers;
using System.Text;

namespace Postern.Web;

/// <summary>What a ClientHello offers that matters before the handshake.</summary>
/// <param name="ServerName">The SNI host name, or null when none was sent.</param>
/// <param name="ApplicationProtocols">The ALPN protocol names offered, in order.</param>
internal sealed record TlsClientHelloInfo(string? ServerName, IReadOnlyList<string> ApplicationProtocols);

/// <summary>Outcome of <see cref="TlsClientHello.TryRead"/>.</summary>
internal enum ClientHelloStatus
{
    /// <summary>The bytes so far are a valid beginning; read more.</summary>
    NeedMore,
    /// <summary>A complete ClientHello was read.</summary>
    Complete,
    /// <summary>Not a TLS ClientHello (or a malformed one): let the TLS stack deal with it.</summary>
    NotClientHello,
}

/// <summary>A bounded ClientHello reader over buffered, not yet consumed bytes.</summary>
internal static class TlsClientHello
{
    /// <summary>Most bytes looked at; a ClientHello is a few hundred bytes to a few KiB (post-quantum key shares).</summary>
    public const int MaxBytes = 32 * 1024;

    private const byte HandshakeRecord = 22;
    private const byte ClientHelloMessage = 1;

    /// <summary>Reads the ClientHello at the start of <paramref name="buffer"/>.</summary>
    public static ClientHelloStatus TryRead(ReadOnlySequence<byte> buffer, out TlsClientHelloInfo? hello)
    {
        hello = null;
        // Gather the handshake message from consecutive handshake records.
        var reader = new SequenceReader<byte>(buffer.Length > MaxBytes ? buffer.Slice(0, MaxBytes) : buffer);
        var message = new ArrayBufferWriter<byte>(1024);
        int needed = -1;
        while (needed < 0 || message.WrittenCount < needed)
        {
            if (reader.Remaining < 5) return Partial(buffer);
            reader.TryRead(out byte type);
            reader.TryRead(out byte major);
            reader.TryRead(out byte _);
            reader.TryReadBigEndian(out short lengthRaw);
            int length = (ushort)lengthRaw;
            if (type != HandshakeRecord || major != 3 || length == 0 || length > 16384 + 256) return ClientHelloStatus.NotClientHello;
            if (reader.Remaining < length) return Partial(buffer);
            var fragment = reader.UnreadSequence.Slice(0, length);
            foreach (var segment in fragment) message.Write(segment.Span);
            reader.Advance(length);
            if (needed < 0 && message.WrittenCount >= 4)
            {
                var head = message.WrittenSpan;
                if (head[0] != ClientHelloMessage) return ClientHelloStatus.NotClientHello;
                needed = 4 + (head[1] << 16 | head[2] << 8 | head[3]);
                if (needed > MaxBytes) return ClientHelloStatus.NotClientHello;
            }
        }
        hello = Parse(message.WrittenSpan[4..needed]);
        return hello is null ? ClientHelloStatus.NotClientHello : ClientHelloStatus.Complete;
    }

    private static ClientHelloStatus Partial(ReadOnlySequence<byte> buffer) =>
        buffer.Length >= MaxBytes ? ClientHelloStatus.NotClientHello : ClientHelloStatus.NeedMore;

    private static TlsClientHelloInfo? Parse(ReadOnlySpan<byte> body)
    {
        int p = 2 + 32; // legacy_version, random
        if (!Skip(body, ref p, 1) || !Skip(body, ref p, 2) || !Skip(body, ref p, 1)) return null; // session_id, cipher_suites, compression_methods
        if (p == body.Length) return new TlsClientHelloInfo(null, []); // no extensions (old clients)
        if (p + 2 > body.Length) return null;
        int extEnd = p + 2 + (body[p] << 8 | body[p + 1]);
        p += 2;
        if (extEnd > body.Length) return null;
        string? serverName = null;
        var protocols = new List<string>();
        while (p < extEnd)
        {
            if (p + 4 > extEnd) return null;
            int type = body[p] << 8 | body[p + 1];
            int length = body[p + 2] << 8 | body[p + 3];
            p += 4;
            if (p + length > extEnd) return null;
            var data = body.Slice(p, length);
            p += length;
            if (type == 0 && !ReadServerName(data, out serverName)) return null;
            if (type == 16 && !ReadProtocols(data, protocols)) return null;
        }
        return new TlsClientHelloInfo(serverName, protocols);
    }

    /// <summary>Skips a vector with a length prefix of <paramref name="lengthBytes"/> bytes.</summary>
    private static bool Skip(ReadOnlySpan<byte> body, ref int p, int lengthBytes)
    {
        if (p + lengthBytes > body.Length) return false;
        int length = lengthBytes == 1 ? body[p] : body[p] << 8 | body[p + 1];
        p += lengthBytes + length;
        return p <= body.Length;
    }

    private static bool ReadServerName(ReadOnlySpan<byte> data, out string? name)
    {
        name = null;
        if (data.Length < 2 || (data[0] << 8 | data[1]) != data.Length - 2) return false;
        int p = 2;
        while (p < data.Length)
        {
            if (p + 3 > data.Length) return false;
            byte nameType = data[p];
            int length = data[p + 1] << 8 | data[p + 2];
            p += 3;
            if (length == 0 || p + length > data.Length) return false;
            // host_name (0) is ASCII (RFC 6066 §3: A-labels); other types are skipped.
            if (nameType == 0 && name is null)
            {
                var bytes = data.Slice(p, length);
                foreach (byte b in bytes)
                {
                    if (b is <= 0x20 or >= 0x7f) return false;
                }
                name = Encoding.ASCII.GetString(bytes);
            }
            p += length;
        }
        return true;
    }

    private static bool ReadProtocols(ReadOnlySpan<byte> data, List<string> protocols)
    {
        if (data.Length < 2 || (data[0] << 8 | data[1]) != data.Length - 2) return false;
        int p = 2;
        while (p < data.Length)
        {
            int length = data[p];
            if (length == 0 || p + 1 + length > data.Length) return false;
            protocols.Add(Encoding.Latin1.GetString(data.Slice(p + 1, length)));
            p += 1 + length;
        }
        return true;
    }
}
