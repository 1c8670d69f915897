// ACME lab for tests: Debian's pebble (RFC 8555 test CA) and pebble-challtestsrv as its DNS,
// answering 127.0.0.1 for every name, both on free loopback ports and stopped by PID. pebble
// validates http-01 on HttpPort and tls-alpn-01 on TlsPort of 127.0.0.1, where the test runs
// its responders. pebble's own HTTPS certificate comes from a throwaway CA made here
// (TrustedRoot); the CA that issues the test certificates changes at every start (IssuingRootAsync).
//
// Linked into test projects with <Compile Include="../Shared/PebbleLab.cs" Link="Shared/PebbleLab.cs" />.
// Needs the Debian package pebble (scripts/test-packages.txt).
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Postern.Testing;

/// <summary>A running pebble + pebble-challtestsrv on loopback.</summary>
public sealed class PebbleLab : IAsyncDisposable
{
    /// <summary>An EAB key id configured when <c>requireEab</c> is set.</summary>
    public const string EabKeyId = "kid-postern";
    /// <summary>Its HMAC key, base64url.</summary>
    public const string EabHmacKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

    private readonly List<Process> _processes = [];
    private readonly StringBuilder _log = new();

    private PebbleLab(string directory) => Directory = directory;

    public string Directory { get; }
    public int ListenPort { get; private set; }
    public int ManagementPort { get; private set; }
    public int HttpPort { get; private set; }
    public int TlsPort { get; private set; }
    public int DnsPort { get; private set; }
    public Uri DirectoryUri => new($"https://127.0.0.1:{ListenPort}/dir");
    /// <summary>The CA of pebble's HTTPS listener (trust it for the ACME connection only).</summary>
    public X509Certificate2 TrustedRoot { get; private set; } = null!;
    /// <summary>PEM file of <see cref="TrustedRoot"/>.</summary>
    public string TrustedRootFile => Path.Combine(Directory, "ca.pem");

    public static bool IsAvailable => FindTool("pebble") is not null && FindTool("pebble-challtestsrv") is not null;

    /// <summary>
    /// Starts the lab. <paramref name="nonceRejectPercent"/> makes pebble refuse good nonces (badNonce) that often.
    /// With <paramref name="dnsServer"/> (the DNS lab's resolver, say) pebble resolves the names to validate there
    /// instead of through pebble-challtestsrv's "127.0.0.1 for every name".
    /// </summary>
    public static async Task<PebbleLab> StartAsync(bool requireEab = false, int nonceRejectPercent = 0, IPEndPoint? dnsServer = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-pebble-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(dir);
        var lab = new PebbleLab(dir);
        try
        {
            await lab.StartInternalAsync(requireEab, nonceRejectPercent, dnsServer).ConfigureAwait(false);
            return lab;
        }
        catch
        {
            await lab.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartInternalAsync(bool requireEab, int nonceRejectPercent, IPEndPoint? dnsServer)
    {
        WriteTlsFiles();
        var used = new HashSet<int>();
        DnsPort = FreePort(used, udpToo: true);
        int challMgmt = FreePort(used);
        ListenPort = FreePort(used);
        ManagementPort = FreePort(used);
        HttpPort = FreePort(used);
        TlsPort = FreePort(used);

        if (dnsServer is null)
            Start("pebble-challtestsrv", [], "-dns01", $"127.0.0.1:{DnsPort}", "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-management", $"127.0.0.1:{challMgmt}", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "");

        string eab = requireEab
            ? $", \"externalAccountBindingRequired\": true, \"externalAccountMACKeys\": {{ \"{EabKeyId}\": \"{EabHmacKey}\" }}"
            : ", \"externalAccountBindingRequired\": false";
        File.WriteAllText(Path.Combine(Directory, "pebble.json"), $$"""
            { "pebble": {
              "listenAddress": "127.0.0.1:{{ListenPort}}",
              "managementListenAddress": "127.0.0.1:{{ManagementPort}}",
              "certificate": "{{Path.Combine(Directory, "pebble.crt")}}",
              "privateKey": "{{Path.Combine(Directory, "pebble.key")}}",
              "httpPort": {{HttpPort}},
              "tlsPort": {{TlsPort}},
              "ocspResponderURL": ""{{eab}}
            } }
            """);
        Start("pebble", [("PEBBLE_VA_NOSLEEP", "1"), ("PEBBLE_VA_ALWAYS_VALID", "0"), ("PEBBLE_WFE_NONCEREJECT", nonceRejectPercent.ToString(System.Globalization.CultureInfo.InvariantCulture))],
            "-config", Path.Combine(Directory, "pebble.json"), "-dnsserver", dnsServer?.ToString() ?? $"127.0.0.1:{DnsPort}");
        await WaitForDirectoryAsync().ConfigureAwait(false);
    }

    private void WriteTlsFiles()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caReq = new CertificateRequest("CN=Postern test CA for pebble", caKey, HashAlgorithmName.SHA256);
        caReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caReq.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caReq.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caReq.CreateSelfSigned(now.AddHours(-1), now.AddDays(2));
        TrustedRoot = X509CertificateLoader.LoadCertificate(ca.RawData);
        File.WriteAllText(TrustedRootFile, ca.ExportCertificatePem() + "\n");

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        req.CertificateExtensions.Add(san.Build());
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        req.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var cert = req.Create(ca, now.AddHours(-1), now.AddDays(1), [1, 2, 3, 4, 5, 6, 7, 8]);
        File.WriteAllText(Path.Combine(Directory, "pebble.crt"), cert.ExportCertificatePem() + "\n");
        File.WriteAllText(Path.Combine(Directory, "pebble.key"), key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    /// <summary>The root that issues this pebble run's certificates (management interface).</summary>
    public async Task<X509Certificate2> IssuingRootAsync()
    {
        using var http = CreateHttpClient();
        string pem = await http.GetStringAsync(new Uri($"https://127.0.0.1:{ManagementPort}/roots/0")).ConfigureAwait(false);
        return X509Certificate2.CreateFromPem(pem);
    }

    private HttpClient CreateHttpClient()
    {
        var root = TrustedRoot;
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
        {
            if (cert is null || (errors & ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) != 0) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(root);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(X509CertificateLoader.LoadCertificate(cert.GetRawCertData()));
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
    }

    private async Task WaitForDirectoryAsync()
    {
        using var http = CreateHttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (_processes.Any(p => p.HasExited)) throw new InvalidOperationException("pebble exited early:\n" + Log);
            try
            {
                using var r = await http.GetAsync(DirectoryUri).ConfigureAwait(false);
                if (r.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException("pebble did not answer:\n" + Log);
            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    /// <summary>What pebble and challtestsrv printed.</summary>
    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    private void Start(string tool, (string, string)[] env, params string[] args)
    {
        string path = FindTool(tool) ?? throw new InvalidOperationException(tool + " is not installed (apt-get install pebble)");
        string? setsid = FindTool("setsid");
        var psi = new ProcessStartInfo(setsid ?? path) { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (setsid is not null) psi.ArgumentList.Add(path);
        foreach (string a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        Process p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Append(tool).Append(": ").AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Append(tool).Append(": ").AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _processes.Add(p);
    }

    /// <summary>Stops pebble (not the DNS), to test an ACME server that is down.</summary>
    public void StopPebble()
    {
        foreach (var p in _processes.Where(p => p.StartInfo.ArgumentList.Contains("-config")))
            Stop(p);
    }

    private static void Stop(Process p)
    {
        try
        {
            if (!p.HasExited)
            {
                p.Kill();
                p.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static int FreePort(HashSet<int> used, bool udpToo = false)
    {
        for (int i = 0; i < 100; i++)
        {
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
            if (!used.Add(port)) continue;
            if (!udpToo) return port;
            try
            {
                using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException("no free loopback port");
    }

    private static string? FindTool(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/bin", "/sbin", "/bin"]))
        {
            if (dir.Length == 0) continue;
            string path = Path.Combine(dir, name);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _processes)
        {
            Stop(p);
            p.Dispose();
        }
        TrustedRoot?.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }
}
