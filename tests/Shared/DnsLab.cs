// DNSSEC lab for tests: nsd (authoritative) serving zones signed with ldns-signzone, and
// unbound (validating) trusting their DS records, both on 127.0.0.1 ports chosen free at
// start. Everything lives in a temp directory removed on dispose; both daemons run in the
// foreground (setsid, so they ignore the test host's terminal) and are stopped by PID.
//
// Zones:
//   signed.test   signed, anchored          -> answers carry AD (authentic)
//   bogus.test    signed, then "tampered.bogus.test" TXT edited after signing
//                                            -> SERVFAIL for that name (EDE 6, DNSSEC Bogus)
//   stripped.test anchored but served unsigned -> SERVFAIL everywhere
//   insecure.test unsigned, no anchor        -> answers, never AD
//
// Used by tests/Postern.Dns.Tests and tests/Postern.Tests through
//   <Compile Include="../Shared/DnsLab.cs" Link="Shared/DnsLab.cs" />
// (the including project must reference Postern.Dns). Needs the Debian packages nsd,
// unbound and ldnsutils (scripts/test-packages.txt).
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Postern.Dns;

namespace Postern.Testing;

/// <summary>A running nsd + unbound DNSSEC lab on loopback.</summary>
public sealed class DnsLab : IAsyncDisposable
{
    public const string SignedZone = "signed.test";
    public const string BogusZone = "bogus.test";
    public const string StrippedZone = "stripped.test";
    public const string InsecureZone = "insecure.test";

    /// <summary>The name in <see cref="BogusZone"/> whose TXT record was changed after signing.</summary>
    public const string TamperedName = "tampered.bogus.test";

    private static readonly string[] Tools = ["nsd", "unbound", "ldns-keygen", "ldns-signzone", "ldns-key2ds"];

    private readonly List<Process> _processes = [];
    private readonly StringBuilder _log = new();

    private DnsLab(string directory) => Directory = directory;

    /// <summary>The lab's temp directory (configs, zones, keys, logs).</summary>
    public string Directory { get; }

    /// <summary>unbound: the validating resolver to point resolvers at.</summary>
    public IPEndPoint ResolverEndPoint { get; private set; } = null!;

    /// <summary>nsd: the authoritative server (answers never carry AD).</summary>
    public IPEndPoint AuthoritativeEndPoint { get; private set; } = null!;

    /// <summary>Output of the daemons and tools so far, for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

    /// <summary>Whether the lab's programs are installed.</summary>
    public static bool IsAvailable => Tools.All(t => FindTool(t) is not null);

    /// <summary>A resolver using unbound, with loopback trusted (so AD counts) and no cache.</summary>
    public DnsResolver CreateResolver(int cacheEntries = 0) =>
        new(new DnsResolverOptions { Servers = [ResolverEndPoint], CacheMaxEntries = cacheEntries, Timeout = TimeSpan.FromSeconds(5) });

    /// <summary>
    /// Creates the zones, signs them, starts nsd and unbound, and waits until unbound answers.
    /// <paramref name="extraRecords"/> maps a lab zone name to zone-file lines added before signing.
    /// </summary>
    public static async Task<DnsLab> StartAsync(IReadOnlyDictionary<string, string>? extraRecords = null)
    {
        string missing = string.Join(", ", Tools.Where(t => FindTool(t) is null));
        if (missing.Length > 0)
            throw new InvalidOperationException($"DNS lab needs {missing} (Debian packages nsd, unbound, ldnsutils; see scripts/test-packages.txt)");
        // The free ports are found before the daemons bind them; another process may take one
        // in between, so a failed start is retried with new ports.
        for (int attempt = 1; ; attempt++)
        {
            string dir = Path.Combine(Path.GetTempPath(), "postern-dnslab-" + Guid.NewGuid().ToString("N")[..12]);
            System.IO.Directory.CreateDirectory(dir);
            var lab = new DnsLab(dir);
            try
            {
                await lab.RunAsync(extraRecords ?? new Dictionary<string, string>()).ConfigureAwait(false);
                return lab;
            }
            catch (Exception e)
            {
                string log = lab.Log;
                await lab.DisposeAsync().ConfigureAwait(false);
                if (attempt >= 3) throw new InvalidOperationException($"DNS lab failed to start: {e.Message}\n{log}", e);
            }
        }
    }

    private async Task RunAsync(IReadOnlyDictionary<string, string> extra)
    {
        string Extra(string zone) => extra.TryGetValue(zone, out string? lines) ? lines + "\n" : "";
        var anchors = new StringBuilder();

        await WriteZoneAsync(SignedZone, Extra(SignedZone) + $"""
            @ IN MX 10 mail.{SignedZone}.
            mail IN A 127.0.0.1
            mail IN AAAA ::1
            @ IN TXT "v=spf1 ip4:127.0.0.1 -all"
            www IN CNAME mail.{SignedZone}.
            _25._tcp.mail IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
            @ IN CAA 0 issue "ca.example"
            _submissions._tcp IN SRV 0 1 465 mail.{SignedZone}.
            """).ConfigureAwait(false);
        anchors.AppendLine(await SignAsync(SignedZone).ConfigureAwait(false));

        await WriteZoneAsync(BogusZone, Extra(BogusZone) + """
            @ IN TXT "intact"
            tampered IN TXT "original"
            """).ConfigureAwait(false);
        anchors.AppendLine(await SignAsync(BogusZone).ConfigureAwait(false));
        string bogusFile = Path.Combine(Directory, BogusZone + ".zone.signed");
        string signedText = await File.ReadAllTextAsync(bogusFile).ConfigureAwait(false);
        if (!signedText.Contains("\"original\"", StringComparison.Ordinal)) throw new InvalidOperationException("signed bogus zone lacks the record to tamper with");
        await File.WriteAllTextAsync(bogusFile, signedText.Replace("\"original\"", "\"tampered\"", StringComparison.Ordinal)).ConfigureAwait(false);

        await WriteZoneAsync(StrippedZone, Extra(StrippedZone) + """
            @ IN TXT "unsigned but anchored"
            """).ConfigureAwait(false);
        anchors.AppendLine(await SignAsync(StrippedZone, serveUnsigned: true).ConfigureAwait(false));

        await WriteZoneAsync(InsecureZone, Extra(InsecureZone) + $"""
            @ IN MX 10 mail.{InsecureZone}.
            mail IN A 127.0.0.1
            @ IN TXT "not signed"
            """).ConfigureAwait(false);
        File.Copy(Path.Combine(Directory, InsecureZone + ".zone"), Path.Combine(Directory, InsecureZone + ".zone.signed"));
        await File.WriteAllTextAsync(Path.Combine(Directory, "anchors.ds"), anchors.ToString()).ConfigureAwait(false);

        string[] zones = [SignedZone, BogusZone, StrippedZone, InsecureZone];
        int nsdPort = FreePort();
        AuthoritativeEndPoint = new IPEndPoint(IPAddress.Loopback, nsdPort);
        var nsd = new StringBuilder($"""
            server:
              ip-address: 127.0.0.1@{nsdPort}
              do-ip6: no
              username: ""
              chroot: ""
              zonesdir: "{Directory}"
              database: ""
              pidfile: "{Directory}/nsd.pid"
              xfrdfile: "{Directory}/xfrd.state"
              zonelistfile: "{Directory}/zone.list"
              xfrdir: "{Directory}"
              logfile: "{Directory}/nsd.log"
              server-count: 1
              verbosity: 1
            remote-control:
              control-enable: no

            """);
        foreach (string z in zones)
            nsd.Append(CultureInfo.InvariantCulture, $"zone:\n  name: \"{z}\"\n  zonefile: \"{z}.zone.signed\"\n");
        await File.WriteAllTextAsync(Path.Combine(Directory, "nsd.conf"), nsd.ToString()).ConfigureAwait(false);
        Start("nsd", "-d", "-c", Path.Combine(Directory, "nsd.conf"));
        await WaitForAnswerAsync(AuthoritativeEndPoint, "nsd").ConfigureAwait(false);

        int unboundPort = FreePort(exclude: nsdPort);
        ResolverEndPoint = new IPEndPoint(IPAddress.Loopback, unboundPort);
        var unbound = new StringBuilder($"""
            server:
              interface: 127.0.0.1@{unboundPort}
              port: {unboundPort}
              do-ip6: no
              username: ""
              chroot: ""
              directory: "{Directory}"
              pidfile: "{Directory}/unbound.pid"
              use-syslog: no
              logfile: "{Directory}/unbound.log"
              verbosity: 1
              val-log-level: 2
              num-threads: 1
              so-reuseport: no
              access-control: 127.0.0.0/8 allow
              do-not-query-localhost: no
              outgoing-interface: 127.0.0.1
              qname-minimisation: no
              ede: yes
              trust-anchor-file: "{Directory}/anchors.ds"
              local-zone: "." refuse
              local-zone: "test." transparent
            remote-control:
              control-enable: no

            """);
        foreach (string z in zones)
            unbound.Append(CultureInfo.InvariantCulture, $"stub-zone:\n  name: \"{z}\"\n  stub-addr: 127.0.0.1@{nsdPort}\n");
        await File.WriteAllTextAsync(Path.Combine(Directory, "unbound.conf"), unbound.ToString()).ConfigureAwait(false);
        Start("unbound", "-d", "-c", Path.Combine(Directory, "unbound.conf"));
        await WaitForAnswerAsync(ResolverEndPoint, "unbound").ConfigureAwait(false);
    }

    private async Task WriteZoneAsync(string zone, string records)
    {
        string text = $"""
            $ORIGIN {zone}.
            $TTL 300
            @ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60
            @ IN NS ns.{zone}.
            ns IN A 127.0.0.1

            """ + records + "\n";
        await File.WriteAllTextAsync(Path.Combine(Directory, zone + ".zone"), text).ConfigureAwait(false);
    }

    /// <summary>Makes a KSK and ZSK, signs the zone (unless it is to be served unsigned), and returns the DS line for the anchor file.</summary>
    private async Task<string> SignAsync(string zone, bool serveUnsigned = false)
    {
        string ksk = (await RunToolAsync("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", zone).ConfigureAwait(false)).Trim();
        string zsk = (await RunToolAsync("ldns-keygen", "-a", "ECDSAP256SHA256", zone).ConfigureAwait(false)).Trim();
        string zoneFile = Path.Combine(Directory, zone + ".zone");
        string signedFile = zoneFile + ".signed";
        if (serveUnsigned)
        {
            File.Copy(zoneFile, signedFile);
        }
        else
        {
            string inception = DateTime.UtcNow.AddHours(-1).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            string expiration = DateTime.UtcNow.AddDays(30).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            await RunToolAsync("ldns-signzone", "-i", inception, "-e", expiration, "-f", signedFile, zoneFile,
                Path.Combine(Directory, ksk), Path.Combine(Directory, zsk)).ConfigureAwait(false);
        }
        return (await RunToolAsync("ldns-key2ds", "-n", "-2", Path.Combine(Directory, ksk + ".key")).ConfigureAwait(false)).Trim();
    }

    private async Task<string> RunToolAsync(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(FindTool(tool)!) { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        string err = await stderr.ConfigureAwait(false);
        string output = await stdout.ConfigureAwait(false);
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed ({p.ExitCode}): {err}");
        return output;
    }

    private void Start(string tool, params string[] args)
    {
        string path = FindTool(tool)!;
        string? setsid = FindTool("setsid");
        var psi = new ProcessStartInfo(setsid ?? path) { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (setsid is not null) psi.ArgumentList.Add(path);
        foreach (string a in args) psi.ArgumentList.Add(a);
        Process p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Append(tool).Append(": ").AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Append(tool).Append(": ").AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _processes.Add(p);
    }

    private async Task WaitForAnswerAsync(IPEndPoint server, string what)
    {
        var resolver = new DnsResolver(new DnsResolverOptions { Servers = [server], CacheMaxEntries = 0, Timeout = TimeSpan.FromMilliseconds(500), Attempts = 1 });
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (_processes.Any(p => p.HasExited))
                throw new InvalidOperationException($"{what} exited early; log:\n{ReadLogs()}");
            DnsResult<SoaRecord> r = await resolver.LookupSoaAsync(SignedZone).ConfigureAwait(false);
            if (r.IsSuccess) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what} did not answer: {r.Describe()}\n{ReadLogs()}");
            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    private string ReadLogs()
    {
        var sb = new StringBuilder();
        foreach (string f in new[] { "nsd.log", "unbound.log" })
        {
            string path = Path.Combine(Directory, f);
            if (File.Exists(path)) sb.Append("--- ").AppendLine(f).AppendLine(File.ReadAllText(path));
        }
        return sb.ToString();
    }

    /// <summary>A port free for both UDP and TCP on 127.0.0.1 (and never 53).</summary>
    private static int FreePort(int exclude = 0)
    {
        for (int i = 0; i < 50; i++)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            if (port == exclude) continue;
            try
            {
                using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
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
        // unbound first (it is nsd's client), then nsd; each by its own PID and its children.
        for (int i = _processes.Count - 1; i >= 0; i--)
        {
            Process p = _processes[i];
            try
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await p.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
            }
            p.Dispose();
        }
        _processes.Clear();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
