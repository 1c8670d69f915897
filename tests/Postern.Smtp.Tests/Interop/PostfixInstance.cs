using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Postern.Smtp.Tests.Interop;

/// <summary>
/// A non-default Postfix instance (Debian's postfix) with its own config, queue and data
/// directories in a temporary folder, listening on a loopback port and relaying everything to
/// <c>relayhost</c>. Its master runs in the foreground (master -d) and is stopped by PID.
/// </summary>
public sealed class PostfixInstance : IDisposable
{
    private readonly Process _master;

    private PostfixInstance(Process master, string dir, int port)
    {
        _master = master;
        Dir = dir;
        Port = port;
    }

    public string Dir { get; }
    public int Port { get; }
    public string MailLog => Path.Combine(Dir, "maillog");

    public static bool Available => File.Exists("/usr/lib/postfix/sbin/master") && File.Exists("/usr/sbin/postfix");

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static async Task<PostfixInstance> StartAsync(int relayPort)
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-postfix-" + Guid.NewGuid().ToString("N")[..12]);
        string conf = Path.Combine(dir, "conf"), queue = Path.Combine(dir, "queue"), data = Path.Combine(dir, "data");
        foreach (string d in new[] { conf, queue, data })
            Directory.CreateDirectory(d);
        // Postfix daemons run as the postfix user: they must reach the queue and own the data directory.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        int port = FreePort();
        File.WriteAllText(Path.Combine(conf, "main.cf"), $"""
            compatibility_level = 3.6
            queue_directory = {queue}
            data_directory = {data}
            mail_owner = postfix
            setgid_group = postdrop
            myhostname = relay.test
            mydomain = test
            myorigin = relay.test
            mydestination =
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            relayhost = [127.0.0.1]:{relayPort}
            mynetworks = 127.0.0.0/8
            smtpd_relay_restrictions = permit_mynetworks, reject
            maillog_file = {dir}/maillog
            maillog_file_prefixes = {dir}
            alias_maps =
            alias_database =
            local_recipient_maps =
            smtputf8_enable = yes
            smtp_tls_security_level = may
            smtp_tls_loglevel = 1
            smtp_connection_cache_on_demand = yes
            """);
        // The system master.cf with the smtpd on our port and no chroot (the queue is not a chroot jail).
        var master = File.ReadAllLines("/etc/postfix/master.cf").Select(l =>
        {
            if (System.Text.RegularExpressions.Regex.IsMatch(l, @"^smtp\s+inet\s"))
                return $"127.0.0.1:{port} inet n - n - - smtpd";
            var m = System.Text.RegularExpressions.Regex.Match(l, @"^(\S+\s+(unix|inet|unix-dgram|fifo|pass)\s+\S+\s+\S+\s+)y(\s.*)$");
            return m.Success ? m.Groups[1].Value + "n" + m.Groups[3].Value : l;
        });
        File.WriteAllLines(Path.Combine(conf, "master.cf"), master);
        await RunAsync("chown", ["postfix", data]);
        // "postfix check" creates the queue subdirectories with the right owners.
        (int code, string output) = await RunAsync("/usr/sbin/postfix", ["-c", conf, "check"]);
        Assert.True(code == 0, "postfix check failed: " + output + Read(Path.Combine(dir, "maillog")));
        var psi = new ProcessStartInfo("setsid", ["/usr/lib/postfix/sbin/master", "-c", conf, "-d"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        var p = Process.Start(psi)!;
        var instance = new PostfixInstance(p, dir, port);
        for (int i = 0; i < 100; i++)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, port);
                return instance;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        instance.Dispose();
        Assert.Fail("postfix did not start: " + Read(Path.Combine(dir, "maillog")));
        return null!;
    }

    private static string Read(string path) => File.Exists(path) ? File.ReadAllText(path) : "";

    private static async Task<(int, string)> RunAsync(string file, string[] args) => await PeerServers.RunAsync(file, args, TimeSpan.FromSeconds(60));

    public void Dispose()
    {
        if (!_master.HasExited)
        {
            // setsid execs master in place, so the PID is master's: SIGTERM stops it and its children.
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
