using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Postern.Smtp.Tests.Interop;

namespace Postern.Smtp.Tests.Client;

/// <summary>
/// A Postfix instance (Debian's postfix) acting as the MX of test domains: smtpd on
/// <c>IP:25</c> of a loopback address, SMTPUTF8 on, every recipient of the domains delivered by
/// virtual(8) into one maildir. Master runs in the foreground and is stopped by PID.
/// </summary>
public sealed class PostfixMxInstance : IDisposable
{
    private readonly Process _master;

    private PostfixMxInstance(Process master, string dir, IPAddress address)
    {
        _master = master;
        Dir = dir;
        Address = address;
    }

    public string Dir { get; }
    public IPAddress Address { get; }
    public string MailLog => Path.Combine(Dir, "maillog");
    public string Maildir => Path.Combine(Dir, "mail", "box");

    /// <summary>The messages delivered so far.</summary>
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

    /// <summary>Waits (bounded) until <paramref name="count"/> messages were delivered.</summary>
    public async Task<List<string>> WaitForMessagesAsync(int count)
    {
        for (int i = 0; i < 300 && Messages().Count < count; i++)
            await Task.Delay(100);
        return Messages();
    }

    public string Log() => File.Exists(MailLog) ? File.ReadAllText(MailLog) : "";

    /// <summary>Starts Postfix; with <paramref name="tlsKeyPem"/> and <paramref name="tlsChainPem"/> (leaf first, then what it should send) it offers STARTTLS.</summary>
    public static async Task<PostfixMxInstance> StartAsync(IPAddress address, string hostName, IEnumerable<string> domains, string? tlsKeyPem = null, string? tlsChainPem = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-postfix-mx-" + Guid.NewGuid().ToString("N")[..12]);
        string conf = Path.Combine(dir, "conf"), queue = Path.Combine(dir, "queue"), data = Path.Combine(dir, "data"), mail = Path.Combine(dir, "mail");
        foreach (string d in new[] { conf, queue, data, mail })
            Directory.CreateDirectory(d);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        string tls = "";
        if (tlsKeyPem is not null && tlsChainPem is not null)
        {
            // Postfix ≥ 3.4: smtpd_tls_chain_files is the key, then the certificates in the order sent.
            File.WriteAllText(Path.Combine(conf, "key.pem"), tlsKeyPem);
            File.WriteAllText(Path.Combine(conf, "chain.pem"), tlsChainPem);
            tls = $"""

                smtpd_tls_security_level = may
                smtpd_tls_chain_files = {conf}/key.pem, {conf}/chain.pem
                smtpd_tls_loglevel = 1
                """;
        }
        (int _, string uid) = await PeerServers.RunAsync("id", ["-u", "postfix"]);
        (int _, string gid) = await PeerServers.RunAsync("id", ["-g", "postfix"]);
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
            virtual_mailbox_domains = {string.Join(", ", domains)}
            virtual_mailbox_base = {mail}
            virtual_mailbox_maps = static:box/
            virtual_uid_maps = static:{uid.Trim()}
            virtual_gid_maps = static:{gid.Trim()}
            virtual_minimum_uid = 1
            smtpd_peername_lookup = no
            """ + tls);
        string masterSource = File.Exists("/usr/share/postfix/master.cf.dist") ? "/usr/share/postfix/master.cf.dist" : "/etc/postfix/master.cf";
        var master = File.ReadAllLines(masterSource).Select(l =>
        {
            if (System.Text.RegularExpressions.Regex.IsMatch(l, @"^smtp\s+inet\s"))
                return $"{address}:25 inet n - n - - smtpd";
            var m = System.Text.RegularExpressions.Regex.Match(l, @"^(\S+\s+(unix|inet|unix-dgram|fifo|pass)\s+\S+\s+\S+\s+)y(\s.*)$");
            return m.Success ? m.Groups[1].Value + "n" + m.Groups[3].Value : l;
        });
        File.WriteAllLines(Path.Combine(conf, "master.cf"), master);
        await PeerServers.RunAsync("chown", ["postfix", data, mail]);
        (int code, string output) = await PeerServers.RunAsync("/usr/sbin/postfix", ["-c", conf, "check"]);
        Assert.True(code == 0, "postfix check failed: " + output + (File.Exists(Path.Combine(dir, "maillog")) ? File.ReadAllText(Path.Combine(dir, "maillog")) : ""));
        var psi = new ProcessStartInfo("setsid", ["/usr/lib/postfix/sbin/master", "-c", conf, "-d"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        var instance = new PostfixMxInstance(Process.Start(psi)!, dir, address);
        for (int i = 0; i < 100; i++)
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
        Assert.Fail("postfix did not start: " + log);
        return null!;
    }

    public void Dispose()
    {
        if (!_master.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _master.Id.ToString()]))
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
