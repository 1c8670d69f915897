using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Postern.Dns;
using Postern.Security.Dkim;

namespace Postern.Security.Tests.Peers;

/// <summary>
/// DKIM against real implementations: messages signed by Postern verify with dkimpy (python3-dkim)
/// and with the opendkim filter; messages signed by dkimpy verify in Postern. RSA and Ed25519.
/// </summary>
public class DkimPeerTests
{
    private const string Python = "/usr/bin/python3";
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Peers");
    private static readonly Lazy<DkimPrivateKey> Rsa = new(() => DkimPrivateKey.GenerateRsa(2048));
    private static readonly Lazy<DkimPrivateKey> Ed = new(DkimPrivateKey.GenerateEd25519);

    private const string Message =
        "From: Alice <alice@example.org>\r\n" +
        "To: Bob <bob@example.net>\r\n" +
        "Subject: Interop  test\r\n" +
        "Date: Mon, 30 Nov 2026 06:00:00 +0000\r\n" +
        "Message-ID: <interop@example.org>\r\n" +
        "MIME-Version: 1.0\r\n" +
        "Content-Type: text/plain; charset=utf-8\r\n" +
        "\r\n" +
        "Hello Bob,  \r\n" +
        "\r\n" +
        "\tthis line starts with a tab and has  two spaces.\r\n" +
        "\r\n\r\n";

    public static TheoryData<string, string> KeysAndCanon() => new()
    {
        { "rsa", "relaxed/relaxed" }, { "rsa", "simple/simple" }, { "ed25519", "relaxed/relaxed" }, { "ed25519", "simple/relaxed" },
    };

    private static DkimPrivateKey KeyOf(string kind) => kind == "rsa" ? Rsa.Value : Ed.Value;

    private static string SignWithPostern(string kind, string canon)
    {
        string[] c = canon.Split('/');
        var options = new DkimSignerOptions
        {
            Domain = "example.org", Selector = kind, Key = KeyOf(kind),
            HeaderCanonicalization = c[0] == "relaxed" ? DkimCanonicalization.Relaxed : DkimCanonicalization.Simple,
            BodyCanonicalization = c[1] == "relaxed" ? DkimCanonicalization.Relaxed : DkimCanonicalization.Simple,
            Expiration = TimeSpan.FromDays(1),
        };
        return new DkimSigner(options).Sign(Encoding.UTF8.GetBytes(Message)) + Message;
    }

    private static string KeysJson() => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["rsa._domainkey.example.org."] = new Dictionary<string, string[]> { ["TXT"] = [Rsa.Value.DnsRecordText()] },
        ["ed25519._domainkey.example.org."] = new Dictionary<string, string[]> { ["TXT"] = [Ed.Value.DnsRecordText()] },
    });

    [Theory]
    [MemberData(nameof(KeysAndCanon))]
    public void Postern_signature_verifies_with_dkimpy(string kind, string canon)
    {
        using var tmp = new TempFiles();
        string msg = tmp.Write("msg.eml", SignWithPostern(kind, canon));
        string keys = tmp.Write("keys.json", KeysJson());
        (int code, string output) = Run(Python, Path.Combine(Dir, "dkim_peer.py"), "verify", msg, keys);
        Assert.True(code == 0 && output.Trim() == "pass", output);
        // And a tampered copy fails there too.
        string bad = tmp.Write("bad.eml", SignWithPostern(kind, canon).Replace("two spaces", "2 spaces", StringComparison.Ordinal));
        Assert.StartsWith("fail", Run(Python, Path.Combine(Dir, "dkim_peer.py"), "verify", bad, keys).Output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(KeysAndCanon))]
    public void Postern_signature_verifies_with_opendkim(string kind, string canon)
    {
        using var tmp = new TempFiles();
        string msg = tmp.Write("msg.eml", SignWithPostern(kind, canon));
        string keys = tmp.Write("keys.json", KeysJson());
        (int code, string output) = Run("/bin/sh", Path.Combine(Dir, "opendkim_verify.sh"), keys, msg, FreeUdpPort().ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(code == 0, output);
        Assert.Contains("succeeded", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rsa")]
    [InlineData("ed25519")]
    public async Task Dkimpy_signature_verifies_in_postern(string kind)
    {
        using var tmp = new TempFiles();
        string msg = tmp.Write("msg.eml", Message);
        // dkimpy takes RSA keys as PEM and Ed25519 keys as the base64 of the 32-byte seed.
        string key = kind == "rsa"
            ? tmp.Write("key.pem", Rsa.Value.ToPem())
            : tmp.Write("key.b64", Convert.ToBase64String(Convert.FromBase64String(Ed.Value.ToPem().Split('\n')[1])[^32..]));
        (int code, string signedText) = Run(Python, Path.Combine(Dir, "dkim_peer.py"), "sign", msg, key, "example.org", kind);
        Assert.True(code == 0, signedText);
        var dns = new InMemoryDnsResolver();
        dns.Zone.AddTxt(kind + "._domainkey.example.org", KeyOf(kind).DnsRecordText());
        byte[] signed = Encoding.UTF8.GetBytes(signedText.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal));
        DkimSignatureResult r = Assert.Single(await new DkimVerifier(dns).VerifyAsync(signed));
        Assert.True(r.Result == DkimResult.Pass, r.ToString());
        Assert.Equal(kind == "rsa" ? DkimAlgorithm.RsaSha256 : DkimAlgorithm.Ed25519Sha256, r.Signature!.Algorithm);
    }

    internal static (int Code, string Output) Run(string program, params string[] args)
    {
        Assert.True(File.Exists(program), program + " is required (scripts/test-packages.txt)");
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi)!;
        Task<string> o = p.StandardOutput.ReadToEndAsync();
        Task<string> e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException(program + " " + string.Join(' ', args));
        }
        return (p.ExitCode, o.Result + e.Result);
    }

    internal static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}

/// <summary>A temporary folder of files, removed afterwards.</summary>
internal sealed class TempFiles : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("postern-peer-").FullName;

    public string Write(string name, string content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
