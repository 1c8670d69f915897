using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Postern.Dns;
using Postern.Dns.Wire;

BenchmarkSwitcher.FromAssembly(typeof(ResolverBenchmarks).Assembly).Run(args);

/// <summary>Warm-cache lookups (what SPF evaluation costs once DNS answers are cached) and wire parsing.</summary>
[MemoryDiagnoser]
public class ResolverBenchmarks
{
    private UdpClient _server = null!;
    private DnsResolver _resolver = null!;
    private byte[] _response = null!;
    private CancellationTokenSource _stop = null!;

    [GlobalSetup]
    public void Setup()
    {
        var zone = new DnsZone("example.com");
        zone.AddTxt("example.com", "v=spf1 ip4:192.0.2.0/24 include:_spf.example.com -all", 3600)
            .AddAddress("example.com", "192.0.2.1", 3600)
            .AddMx("example.com", 10, "mail.example.com", 3600);
        _server = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        _stop = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                UdpReceiveResult r = await _server.ReceiveAsync(_stop.Token);
                DnsMessage q = DnsMessageReader.Read(r.Buffer);
                await _server.SendAsync(DnsMessageWriter.Write(zone.Answer(q)), r.RemoteEndPoint, _stop.Token);
            }
        });
        _resolver = new DnsResolver(new DnsResolverOptions { Servers = [(IPEndPoint)_server.Client.LocalEndPoint!] });
        _resolver.LookupTxtAsync("example.com").AsTask().GetAwaiter().GetResult();
        _resolver.LookupMxAsync("example.com").AsTask().GetAwaiter().GetResult();
        _response = DnsMessageWriter.Write(zone.Answer(new DnsMessage { Questions = { new DnsQuestion("example.com", DnsRecordType.MX) } }));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop.Cancel();
        _server.Dispose();
        _stop.Dispose();
    }

    [Benchmark]
    public async Task<int> WarmCacheTxt() => (await _resolver.LookupTxtAsync("example.com")).Records.Count;

    [Benchmark]
    public async Task<int> WarmCacheMx() => (await _resolver.LookupMxAsync("Example.COM.")).Records.Count;

    [Benchmark]
    public int ParseResponse() => DnsMessageReader.Read(_response).Answers.Count;

    [Benchmark]
    public int BuildQuery() => DnsMessageWriter.BuildQuery(1234, "_dmarc.example.com", DnsRecordType.TXT).Length;
}
