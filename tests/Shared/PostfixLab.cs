// A Postfix instance (Debian's postfix) for tests: its own config, queue and data folders in a
// temp folder, smtpd on one loopback address and port, master in the foreground (setsid, so
// the PID is master's) stopped by PID. The caller adds what makes it a relay, an MX, a
// bouncer... as main.cf lines (and may create folders under Dir first).
//
// Used by tests/Postern.Smtp.Tests (PostfixInstance, PostfixMxInstance) and tests/Postern.Tests
// through <Compile Include="../Shared/PostfixLab.cs" Link="Shared/PostfixLab.cs" />, with
// ../Shared/ChildProcess.cs (the process runner and the stop by PID).
// Needs the Debian package postfix (scripts/test-packages.txt).
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Postern.Testing;

/// <summary>A running Postfix master with its smtpd on one loopback endpoint.</summary>
public sealed class PostfixLab : IDisposable
{
    private readonly Process _master;

    private PostfixLab(Process master, string dir, IPAddress address, int port)
    {
        _master = master;
        Dir = dir;
        Address = address;
        Port = port;
    }

    /// <summary>The temp folder (conf/, queue/, data/, maillog, and whatever the caller put there).</summary>
    public string Dir { get; }

    public string ConfigDirectory => Path.Combine(Dir, "conf");

    public IPAddress Address { get; }

    public int Port { get; }

    public string MailLog => Path.Combine(Dir, "maillog");

    /// <summary>Whether Postfix is installed.</summary>
    public static bool Available => File.Exists("/usr/lib/postfix/sbin/master") && File.Exists("/usr/sbin/postfix");

    /// <summary>The mail log so far.</summary>
    public string Log() => File.Exists(MailLog) ? File.ReadAllText(MailLog) : "";

    /// <summary>
    /// Writes main.cf (the common part, then the lines <paramref name="mainCf"/> returns for the folder), a master.cf
    /// with smtpd on <paramref name="address"/>:<paramref name="port"/> and nothing chrooted, checks and starts master,
    /// and waits until smtpd accepts connections.
    /// </summary>
    public static async Task<PostfixLab> StartAsync(IPAddress address, int port, Func<string, Task<string>> mainCf)
    {
        if (!Available) throw new InvalidOperationException("postfix is not installed (scripts/test-packages.txt)");
        string dir = Path.Combine(Path.GetTempPath(), "postern-postfix-" + Guid.NewGuid().ToString("N")[..12]);
        string conf = Path.Combine(dir, "conf"), queue = Path.Combine(dir, "queue"), data = Path.Combine(dir, "data");
        foreach (string d in new[] { conf, queue, data })
            Directory.CreateDirectory(d);
        // Postfix daemons run as the postfix user: they must reach the queue and own the data folder.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        string extra = await mainCf(dir);
        File.WriteAllText(Path.Combine(conf, "main.cf"), $"""
            compatibility_level = 3.6
            queue_directory = {queue}
            data_directory = {data}
            mail_owner = postfix
            setgid_group = postdrop
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            maillog_file = {dir}/maillog
            maillog_file_prefixes = {dir}
            alias_maps =
            alias_database =
            smtpd_peername_lookup = no
            {extra}
            """);
        // The shipped master.cf (the system one may be absent with "No configuration"), smtpd on our endpoint, no chroot.
        string masterSource = File.Exists("/usr/share/postfix/master.cf.dist") ? "/usr/share/postfix/master.cf.dist" : "/etc/postfix/master.cf";
        var master = File.ReadAllLines(masterSource).Select(l =>
        {
            if (Regex.IsMatch(l, @"^smtp\s+inet\s"))
                return $"{address}:{port} inet n - n - - smtpd";
            var m = Regex.Match(l, @"^(\S+\s+(unix|inet|unix-dgram|fifo|pass)\s+\S+\s+\S+\s+)y(\s.*)$");
            return m.Success ? m.Groups[1].Value + "n" + m.Groups[3].Value : l;
        });
        File.WriteAllLines(Path.Combine(conf, "master.cf"), master);
        await ChildProcess.RunAsync("chown", ["postfix", data]);
        // "postfix check" creates the queue subfolders with the right owners.
        (int code, string output) = await ChildProcess.RunAsync("/usr/sbin/postfix", ["-c", conf, "check"]);
        if (code != 0)
            throw new InvalidOperationException("postfix check failed: " + output + (File.Exists(Path.Combine(dir, "maillog")) ? File.ReadAllText(Path.Combine(dir, "maillog")) : ""));
        var psi = new ProcessStartInfo("setsid", ["/usr/lib/postfix/sbin/master", "-c", conf, "-d"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        var lab = new PostfixLab(Process.Start(psi)!, dir, address, port);
        for (int i = 0; i < 300; i++)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(address, port);
                return lab;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        string log = lab.Log();
        lab.Dispose();
        throw new InvalidOperationException("postfix did not start: " + log);
    }

    /// <summary>
    /// main.cf lines for an MX that accepts mail for <paramref name="domains"/> and delivers it with virtual(8)
    /// into one maildir, <c>DIR/mail/box/</c> (the folder is created for the postfix user), and relays for 127/8.
    /// </summary>
    public static async Task<string> VirtualMailboxMainCfAsync(string dir, string hostName, IEnumerable<string> domains)
    {
        string uid = (await ChildProcess.RunAsync("id", ["-u", "postfix"])).Output.Trim();
        string gid = (await ChildProcess.RunAsync("id", ["-g", "postfix"])).Output.Trim();
        string mail = Path.Combine(dir, "mail");
        Directory.CreateDirectory(mail);
        await ChildProcess.RunAsync("chown", ["postfix", mail]);
        return $"""
            myhostname = {hostName}
            mydomain = test
            myorigin = {hostName}
            mydestination =
            mynetworks = 127.0.0.0/8
            smtpd_relay_restrictions = permit_mynetworks, reject
            smtputf8_enable = yes
            virtual_mailbox_domains = {string.Join(", ", domains)}
            virtual_mailbox_base = {mail}
            virtual_mailbox_maps = static:box/
            virtual_uid_maps = static:{uid}
            virtual_gid_maps = static:{gid}
            virtual_minimum_uid = 1
            """;
    }

    /// <summary>Makes master re-read its configuration and lookup tables (SIGHUP); new smtpd processes see the change.</summary>
    public Task ReloadAsync()
    {
        ChildProcess.Signal(_master, "HUP");
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        // setsid execs master in place, so the PID is master's: SIGTERM stops it and its children.
        ChildProcess.Stop(_master);
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
