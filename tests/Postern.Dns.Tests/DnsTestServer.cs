using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Postern.Dns;
using Postern.Dns.Wire;

namespace Postern.Dns.Tests;

/// <summary>Ways the test server can misbehave, to check the client's defences.</summary>
public enum Misbehaviour
{
    None,
    /// <summary>Answer over UDP with a different message id only.</summary>
    WrongIdOnly,
    /// <summary>Send a wrong-id answer first, then the right one (a spoofing attempt that loses).</summary>
    WrongIdThenAnswer,
    /// <summary>Send random bytes, then nothing.</summary>
    GarbageOnly,
    /// <summary>Send garbage (with the right id) first, then the right answer.</summary>
    GarbageThenAnswer,
    /// <summary>Over UDP, send an empty answer with TC set; TCP gives the full answer.</summary>
    TruncateUdp,
    /// <summary>Never answer.</summary>
    Silent,
    /// <summary>Answer with a compression pointer loop in the answer owner name.</summary>
    CompressionLoop,
    /// <summary>Answer over UDP with a message larger than the advertised EDNS size.</summary>
    OversizedUdp,
    /// <summary>Answer a different question.</summary>
    WrongQuestion,
    /// <summary>Over TCP, announce a length and close before sending it all.</summary>
    TruncateUdpAndCutTcp,
    /// <summary>SERVFAIL with an Extended DNS Error "DNSSEC Bogus".</summary>
    ServFailWithEde,
    /// <summary>An old server: FORMERR without OPT to queries carrying EDNS, normal answers otherwise.</summary>
    NoEdns,
}

/// <summary>A UDP+TCP DNS server on 127.0.0.1 answering from a <see cref="DnsZone"/>, with hooks for hostile behaviour.</summary>
public sealed class DnsTestServer : IAsyncDisposable
{
    private readonly Socket _udp;
    private readonly Socket _tcp;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _udpLoop;
    private readonly Task _tcpLoop;
    private int _udpQueries;
    private int _tcpQueries;

    private DnsTestServer(DnsZone zone, Socket udp, Socket tcp)
    {
        Zone = zone;
        _udp = udp;
        _tcp = tcp;
        EndPoint = (IPEndPoint)udp.LocalEndPoint!;
        _udpLoop = Task.Run(UdpLoopAsync);
        _tcpLoop = Task.Run(TcpLoopAsync);
    }

    public DnsZone Zone { get; }
    public IPEndPoint EndPoint { get; }
    public Misbehaviour Misbehaviour { get; set; }
    /// <summary>Set the AD bit in answers.</summary>
    public bool AuthenticData { get; set; }
    public TimeSpan Delay { get; set; }
    public int UdpQueries => Volatile.Read(ref _udpQueries);
    public int TcpQueries => Volatile.Read(ref _tcpQueries);

    public static DnsTestServer Start(DnsZone? zone = null)
    {
        // UDP and TCP must share the port number: retry until a free pair is found.
        for (int i = 0; ; i++)
        {
            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, ((IPEndPoint)udp.LocalEndPoint!).Port));
                tcp.Listen(16);
                return new DnsTestServer(zone ?? new DnsZone(), udp, tcp);
            }
            catch (SocketException) when (i < 20)
            {
                udp.Dispose();
                tcp.Dispose();
            }
        }
    }

    private async Task UdpLoopAsync()
    {
        byte[] buffer = new byte[65536];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception) { return; }
            Interlocked.Increment(ref _udpQueries);
            byte[] query = buffer.AsSpan(0, r.ReceivedBytes).ToArray();
            _ = Task.Run(async () =>
            {
                try
                {
                    foreach (byte[] reply in Replies(query, udp: true))
                        await _udp.SendToAsync(reply, SocketFlags.None, r.RemoteEndPoint);
                }
                catch (Exception) { }
            });
        }
    }

    private async Task TcpLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _tcp.AcceptAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(async () =>
            {
                using (client)
                await using (var stream = new NetworkStream(client, ownsSocket: false))
                {
                    try
                    {
                        byte[] len = new byte[2];
                        await stream.ReadExactlyAsync(len, _stop.Token);
                        byte[] query = new byte[BinaryPrimitives.ReadUInt16BigEndian(len)];
                        await stream.ReadExactlyAsync(query, _stop.Token);
                        Interlocked.Increment(ref _tcpQueries);
                        foreach (byte[] reply in Replies(query, udp: false))
                        {
                            byte[] framed = new byte[reply.Length + 2];
                            BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)reply.Length);
                            reply.CopyTo(framed, 2);
                            if (Misbehaviour == Misbehaviour.TruncateUdpAndCutTcp) framed = framed[..(framed.Length / 2)];
                            await stream.WriteAsync(framed, _stop.Token);
                        }
                    }
                    catch (Exception) { }
                }
            });
        }
    }

    private IEnumerable<byte[]> Replies(byte[] queryBytes, bool udp)
    {
        if (Delay > TimeSpan.Zero) Thread.Sleep(Delay);
        if (!DnsMessageReader.TryRead(queryBytes, out DnsMessage? query, out _)) yield break;
        DnsMessage response = Zone.Answer(query);
        response.AuthenticData = AuthenticData;
        switch (Misbehaviour)
        {
            case Misbehaviour.Silent:
                yield break;
            case Misbehaviour.WrongIdOnly:
                response.Id ^= 0x5555;
                yield return DnsMessageWriter.Write(response);
                yield break;
            case Misbehaviour.WrongIdThenAnswer:
            {
                ushort id = response.Id;
                response.Id ^= 0x5555;
                response.Answers.Clear();
                response.Answers.Add(new ARecord(query.Questions[0].Name, 60, IPAddress.Parse("203.0.113.66")));
                yield return DnsMessageWriter.Write(response);
                response = Zone.Answer(query);
                response.Id = id;
                response.AuthenticData = AuthenticData;
                yield return DnsMessageWriter.Write(response);
                yield break;
            }
            case Misbehaviour.GarbageOnly:
                yield return Garbage(query.Id);
                yield break;
            case Misbehaviour.GarbageThenAnswer:
                yield return Garbage(query.Id);
                yield return DnsMessageWriter.Write(response);
                yield break;
            case Misbehaviour.TruncateUdp or Misbehaviour.TruncateUdpAndCutTcp when udp:
                response.Truncated = true;
                response.Answers.Clear();
                response.Authorities.Clear();
                yield return DnsMessageWriter.Write(response);
                yield break;
            case Misbehaviour.CompressionLoop:
            {
                // Header + question, then an answer whose owner is a pointer to itself.
                byte[] head = DnsMessageWriter.Write(new DnsMessage { Id = query.Id, IsResponse = true, RecursionDesired = true, Questions = [.. query.Questions] });
                head[7] = 1; // ANCOUNT = 1
                int at = head.Length;
                byte[] rr = [(byte)(0xC0 | at >> 8), (byte)at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1];
                yield return [.. head, .. rr];
                yield break;
            }
            case Misbehaviour.OversizedUdp when udp:
                for (int i = 0; i < 200; i++)
                    response.Answers.Add(new TxtRecord(query.Questions[0].Name, 60, new string('x', 200) + i));
                yield return DnsMessageWriter.Write(response);
                yield break;
            case Misbehaviour.WrongQuestion:
                response.Questions[0] = new DnsQuestion("other.example", query.Questions[0].Type);
                yield return DnsMessageWriter.Write(response);
                yield break;
            case Misbehaviour.ServFailWithEde:
                response.ResponseCode = DnsResponseCode.ServFail;
                response.Answers.Clear();
                response.Authorities.Clear();
                response.Edns ??= new DnsEdns();
                response.Edns.Options.Add(new EdnsOption(DnsEdns.ExtendedErrorOptionCode, new ExtendedDnsError(6, "signature mismatch").Encode()));
                yield return DnsMessageWriter.Write(response);
                yield break;
            case Misbehaviour.NoEdns when query.Edns is not null:
                yield return DnsMessageWriter.Write(new DnsMessage { Id = query.Id, IsResponse = true, ResponseCode = DnsResponseCode.FormErr, Questions = [.. query.Questions] });
                yield break;
            default:
                yield return DnsMessageWriter.Write(response);
                yield break;
        }
    }

    private static byte[] Garbage(ushort id)
    {
        byte[] g = new byte[64];
        Random.Shared.NextBytes(g);
        BinaryPrimitives.WriteUInt16BigEndian(g, id);
        g[2] = 0x81; // QR set
        g[4] = 0xFF; // absurd question count
        return g;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _udp.Dispose();
        _tcp.Dispose();
        try { await Task.WhenAll(_udpLoop, _tcpLoop); } catch (Exception) { }
        _stop.Dispose();
    }
}
