using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Postern.Dns;
using Postern.Security.Spf;

namespace Postern.Security.Tests.Peers;

/// <summary>
/// Postern's SPF results agree with pyspf (python3-spf) on the same zones: pyspf asks a small
/// DNS server on loopback (dkim_peer.py dns-server) serving the records Postern answers from memory.
/// </summary>
public sealed class SpfPeerTests : IDisposable
{
    private const string Python = "/usr/bin/python3";
    private static readonly string Script = Path.Combine(AppContext.BaseDirectory, "Peers", "dkim_peer.py");

    private static readonly Dictionary<string, Dictionary<string, object[]>> Records = new()
    {
        ["example.org."] = new() { ["TXT"] = ["v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.example.org mx -all"], ["MX"] = [new object[] { 10, "mx.example.org" }] },
        ["_spf.example.org."] = new() { ["TXT"] = ["v=spf1 a:out.example.org ~all"] },
        ["out.example.org."] = new() { ["A"] = ["198.51.100.7"] },
        ["mx.example.org."] = new() { ["A"] = ["198.51.100.25"], ["AAAA"] = ["2001:db8:25::1"] },
        ["soft.example."] = new() { ["TXT"] = ["v=spf1 redirect=_spf.example.org"] },
        ["neutral.example."] = new() { ["TXT"] = ["v=spf1 ?all"] },
        ["macro.example."] = new() { ["TXT"] = ["v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all"] },
        ["7.100.51.198.alice._spf.macro.example."] = new() { ["A"] = ["127.0.0.2"] },
        ["bad.example."] = new() { ["TXT"] = ["v=spf1 ip4:1.2.3.4/40 -all"] },
        ["two.example."] = new() { ["TXT"] = ["v=spf1 -all", "v=spf1 +all"] },
        ["void.example."] = new() { ["TXT"] = ["v=spf1 a:x1.void.example a:x2.void.example a:x3.void.example ?all"] },
        ["nospf.example."] = new() { ["TXT"] = ["hello"] },
    };

    public static TheoryData<string, string> Cases() => new()
    {
        { "192.0.2.9", "a@example.org" }, { "2001:db8::9", "a@example.org" }, { "198.51.100.7", "a@example.org" },
        { "198.51.100.25", "a@example.org" }, { "2001:db8:25::1", "a@example.org" }, { "203.0.113.1", "a@example.org" },
        { "198.51.100.7", "a@soft.example" }, { "203.0.113.1", "a@soft.example" }, { "203.0.113.1", "a@neutral.example" },
        { "198.51.100.7", "alice@macro.example" }, { "198.51.100.7", "bob@macro.example" }, { "192.0.2.1", "a@bad.example" },
        { "192.0.2.1", "a@two.example" }, { "192.0.2.1", "a@void.example" }, { "192.0.2.1", "a@nospf.example" }, { "192.0.2.1", "a@nxdomain.example" },
    };

    private readonly TempFiles _tmp = new();
    private readonly Process _server;
    private readonly int _port = DkimPeerTests.FreeUdpPort();

    public SpfPeerTests()
    {
        Assert.True(File.Exists(Python), "Debian python3 with python3-spf is required (scripts/test-packages.txt)");
        string json = _tmp.Write("records.json", JsonSerializer.Serialize(Records));
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Script, "dns-server", _port.ToString(System.Globalization.CultureInfo.InvariantCulture), json }) psi.ArgumentList.Add(a);
        _server = Process.Start(psi)!;
        Assert.Equal("ready", _server.StandardOutput.ReadLine());
    }

    public void Dispose()
    {
        if (!_server.HasExited) _server.Kill();
        _server.Dispose();
        _tmp.Dispose();
    }

    private static InMemoryDnsResolver Zone()
    {
        var dns = new InMemoryDnsResolver();
        foreach ((string name, Dictionary<string, object[]> types) in Records)
        {
            foreach ((string type, object[] values) in types)
                foreach (object v in values)
                {
                    switch (type)
                    {
                        case "TXT": dns.Zone.AddTxt(name, (string)v); break;
                        case "A" or "AAAA": dns.Zone.AddAddress(name, (string)v); break;
                        case "MX": dns.Zone.AddMx(name, (ushort)(int)((object[])v)[0], (string)((object[])v)[1]); break;
                    }
                }
        }
        return dns;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Postern_and_pyspf_agree(string ip, string mailFrom)
    {
        (int code, string output) = DkimPeerTests.Run(Python, Script, "spf", ip, mailFrom, "helo.example", _port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(code == 0, output);
        string theirs = output.Trim();
        SpfCheckResult ours = await new SpfVerifier(Zone()).CheckMailFromAsync(IPAddress.Parse(ip), "helo.example", mailFrom);
        Assert.True(theirs == ours.Result.ToKeyword(), $"pyspf says {theirs}, Postern says {ours.Result.ToKeyword()} ({ours.Problem})");
    }
}
