using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Postern.Tests;

/// <summary>
/// A Postfix instance (Debian's postfix) for the end-to-end test, in a temporary folder: smtpd on
/// <c>IP:25</c> of a loopback address, the MX of <c>mailboxDomains</c> (delivered by virtual(8)
/// into one maildir), and a relay for clients on 127/8 whose mail for other domains goes where
/// <c>transports</c> says (Postfix resolves through the system's resolver, which cannot be pointed
/// at the test's DNS lab, so the test passes the address the lab gives for the MX host).
/// master runs in the foreground under setsid and is stopped by PID.
/// </summary>
internal sealed partial class PostfixPeer : IDisposable
{
    private readonly Process _master;

    private PostfixPeer(Process master, string dir, IPAddress address)
    {
        _master = master;
        Dir = dir;
        Address = address;
    }

    public string Dir { get; }
    public IPAddress Address { get; }
    public string Maildir => Path.Combine(Dir, "mail", "box");
    public string Log() => File.Exists(Path.Combine(Dir, "maillog")) ? File.ReadAllText(Path.Combine(Dir, "maillog")) : "";

    public static bool Available => File.Exists("/usr/lib/postfix/sbin/master") && File.Exists("/usr/sbin/postfix");

    /// <summary>The messages delivered into the maildir so far.</summary>
    public List<string> Messages()
    {
        var list = new List<string>();
        foreach (string sub in new[] { "new", "cur" })
        {
            string d = Path.Combine(Maildir, sub);
            if (Directory.Exists(d)) list.AddRange(Directory.GetFiles(d).Select(File.ReadAllText));
        }
        return list;
    }

    /// <param name="transports">Postfix transport(5) entries, e.g. <c>example.test smtp:[127.0.0.5]:2525</c>.</param>
    /// <param name="extraMainCf">More main.cf lines (TLS client settings).</param>
    public static async Task<PostfixPeer> StartAsync(IPAddress address, string hostName, IEnumerable<string> mailboxDomains, IEnumerable<string> transports, string extraMainCf = "")
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-e2e-postfix-" + Guid.NewGuid().ToString("N")[..12]);
        string conf = Path.Combine(dir, "conf"), queue = Path.Combine(dir, "queue"), data = Path.Combine(dir, "data"), mail = Path.Combine(dir, "mail");
        foreach (string d in new[] { conf, queue, data, mail })
            Directory.CreateDirectory(d);
        // Postfix daemons run as the postfix user: they must reach the queue, the maildir and any CA file here.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        string uid = (await RunAsync("id", "-u", "postfix")).Trim(), gid = (await RunAsync("id", "-g", "postfix")).Trim();
        File.WriteAllText(Path.Combine(conf, "main.cf"), $"""
            compatibility_level = 3.6
            queue_directory = {queue}
            data_directory = {data}
            mail_owner = postfix
            setgid_group = postdrop
            myhostname = {hostName}
            mydomain = test
            myorigin = {hostName}
            mydestination =
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            smtpd_relay_restrictions = permit_mynetworks, reject
            maillog_file = {dir}/maillog
            maillog_file_prefixes = {dir}
            alias_maps =
            alias_database =
            smtputf8_enable = yes
            virtual_mailbox_domains = {string.Join(", ", mailboxDomains)}
            virtual_mailbox_base = {mail}
            virtual_mailbox_maps = static:box/
            virtual_uid_maps = static:{uid}
            virtual_gid_maps = static:{gid}
            virtual_minimum_uid = 1
            smtpd_peername_lookup = no
            smtp_address_preference = ipv4
            transport_maps = inline:{"{"}{string.Join(", ", transports.Select(t => "{ " + t.Replace(" ", " = ", StringComparison.Ordinal) + " }"))}{"}"}
            {extraMainCf}
            """);
        string masterSource = File.Exists("/usr/share/postfix/master.cf.dist") ? "/usr/share/postfix/master.cf.dist" : "/etc/postfix/master.cf";
        var master = File.ReadAllLines(masterSource).Select(l =>
        {
            if (SmtpInetLine().IsMatch(l))
                return $"{address}:25 inet n - n - - smtpd";
            var m = ChrootColumn().Match(l);
            return m.Success ? m.Groups[1].Value + "n" + m.Groups[3].Value : l;
        });
        File.WriteAllLines(Path.Combine(conf, "master.cf"), master);
        await RunAsync("chown", "postfix", data, mail);
        await RunAsync("/usr/sbin/postfix", "-c", conf, "check");
        var psi = new ProcessStartInfo("setsid", ["/usr/lib/postfix/sbin/master", "-c", conf, "-d"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        var instance = new PostfixPeer(Process.Start(psi)!, dir, address);
        for (int i = 0; i < 600; i++)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(address, 25);
                return instance;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        string log = instance.Log();
        instance.Dispose();
        throw new InvalidOperationException("postfix did not start: " + log);
    }

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {p.ExitCode}: {await stderr}{await stdout}");
        return await stdout;
    }

    [GeneratedRegex(@"^smtp\s+inet\s")]
    private static partial Regex SmtpInetLine();

    [GeneratedRegex(@"^(\S+\s+(unix|inet|unix-dgram|fifo|pass)\s+\S+\s+\S+\s+)y(\s.*)$")]
    private static partial Regex ChrootColumn();

    public void Dispose()
    {
        if (!_master.HasExited)
        {
            // setsid execs master in place, so the PID is master's: SIGTERM stops it and its children.
            using (var kill = Process.Start("kill", ["-TERM", _master.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                kill.WaitForExit();
            if (!_master.WaitForExit(15_000))
                _master.Kill();
        }
        _master.Dispose();
        try
        {
            Directory.Delete(Dir, true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
