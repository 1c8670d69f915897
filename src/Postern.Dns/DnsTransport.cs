// Sends one query to one server and returns the matching response. UDP answers are
// accepted only from the connected server address and port (the kernel filters), with our
// random id, the QR bit, opcode QUERY and our exact question (RFC 5452 §9.1); anything else
// is dropped and we keep listening until the timeout, so a forged or garbled packet cannot
// end the wait early. Each query uses a new socket, so the source port is picked at random
// by the kernel (RFC 5452 §9.2). TCP (RFC 7766) is used after a truncated UDP answer.
using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Postern.Dns.Wire;

namespace Postern.Dns;

internal readonly record struct TransportResult(DnsMessage? Response, DnsOutcome Failure, string? Detail)
{
    public static TransportResult Ok(DnsMessage m) => new(m, DnsOutcome.Success, null);
}

internal static class DnsTransport
{
    /// <summary>Datagrams are read into a buffer this large, so an oversized one is seen whole and refused.</summary>
    private const int UdpReceiveBufferSize = 65536;

    /// <summary>Most unrelated datagrams tolerated while waiting for one answer.</summary>
    private const int MaxIgnoredDatagrams = 256;

    public static async Task<TransportResult> QueryUdpAsync(IPEndPoint server, byte[] query, ushort id, DnsQuestion question, int maxSize, CancellationToken cancellationToken)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
        await socket.SendAsync(query, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(UdpReceiveBufferSize);
        try
        {
            string? rejected = null;
            for (int i = 0; i < MaxIgnoredDatagrams; i++)
            {
                int n;
                try
                {
                    n = await socket.ReceiveAsync(buffer.AsMemory(0, UdpReceiveBufferSize), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (rejected is not null)
                {
                    return new TransportResult(null, DnsOutcome.MalformedResponse, rejected);
                }
                // RFC 6891 §6.2.5: the responder must not exceed our advertised size (512 without EDNS).
                if (n > Math.Max(512, maxSize)) { rejected = $"oversized UDP response ({n} octets)"; continue; }
                // A datagram with another id is someone else's (or a spoofing attempt): not our answer, not an error.
                if (n >= 2 && BinaryPrimitives.ReadUInt16BigEndian(buffer) != id) continue;
                if (!TryAccept(buffer.AsSpan(0, n), id, question, out DnsMessage? message, out string? why))
                {
                    rejected = why;
                    continue;
                }
                return TransportResult.Ok(message);
            }
            return new TransportResult(null, DnsOutcome.MalformedResponse, "too many unrelated datagrams");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public static async Task<TransportResult> QueryTcpAsync(IPEndPoint server, byte[] query, ushort id, DnsQuestion question, CancellationToken cancellationToken)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        // RFC 1035 §4.2.2: two-octet length prefix.
        byte[] framed = new byte[query.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)query.Length);
        query.CopyTo(framed, 2);
        await stream.WriteAsync(framed, cancellationToken).ConfigureAwait(false);
        byte[] lengthBytes = new byte[2];
        try
        {
            await stream.ReadExactlyAsync(lengthBytes, cancellationToken).ConfigureAwait(false);
            int length = BinaryPrimitives.ReadUInt16BigEndian(lengthBytes);
            if (length < 12) return new TransportResult(null, DnsOutcome.MalformedResponse, "TCP response shorter than a header");
            byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                await stream.ReadExactlyAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                return TryAccept(buffer.AsSpan(0, length), id, question, out DnsMessage? message, out string? why)
                    ? TransportResult.Ok(message)
                    : new TransportResult(null, DnsOutcome.MalformedResponse, why);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (EndOfStreamException)
        {
            return new TransportResult(null, DnsOutcome.MalformedResponse, "TCP connection closed before the full response");
        }
    }

    /// <summary>Parses and matches a response against the query (RFC 5452 §9.1).</summary>
    internal static bool TryAccept(ReadOnlySpan<byte> data, ushort id, DnsQuestion question, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DnsMessage? message, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? why)
    {
        message = null;
        if (data.Length < 12) { why = "datagram shorter than a header"; return false; }
        if (BinaryPrimitives.ReadUInt16BigEndian(data) != id) { why = "response id does not match"; return false; }
        if (!DnsMessageReader.TryRead(data, out DnsMessage? m, out DnsFormatException? error)) { why = "malformed response: " + error.Message; return false; }
        if (!m.IsResponse || m.Opcode != 0) { why = "not a response to a standard query"; return false; }
        if (m.Questions.Count == 0 && m.ResponseCode == DnsResponseCode.FormErr)
        {
            // RFC 1035 leaves the question out of some FORMERR replies.
            message = m; why = null; return true;
        }
        if (m.Questions.Count != 1) { why = "response question count is not 1"; return false; }
        DnsQuestion q = m.Questions[0];
        if (q.Type != question.Type || q.Class != question.Class || !DnsName.Equals(q.Name, question.Name))
        {
            why = "response question does not match";
            return false;
        }
        message = m;
        why = null;
        return true;
    }
}
