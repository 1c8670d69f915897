using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;

namespace Postern.Tests;

/// <summary>`postern quickstart` then `postern serve`, as a new operator runs them (on loopback ports).</summary>
public partial class QuickstartCommandTests
{
    [GeneratedRegex(@"^    (\S{20})$", RegexOptions.Multiline)]
    private static partial Regex PasswordLine();

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public void Quickstart_writes_a_config_that_serves_and_the_printed_password_logs_in()
    {
        using var tmp = new TempFolder();
        string dir = tmp.Sub("srv");
        var r = Cli.Run("quickstart", "you@example.com", "--dir", dir, "--skip-checks");
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        foreach (var expected in new[] { "example.com. IN MX 10 mail.example.com.", "_25._tcp.mail.example.com. IN TLSA 3 1 1 ", "_submissions._tcp.example.com. IN SRV 0 1 465 mail.example.com.", "e._domainkey.example.com. IN TXT \"v=DKIM1; k=ed25519; p=", "r._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p=", "_dmarc.example.com. IN TXT \"v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com\"",
                     "example.com. IN TXT \"v=spf1 mx ~all\"", "_imaps._tcp.example.com. IN SRV 0 1 993 mail.example.com.", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "User=postern" })
        {
            Assert.Contains(expected, r.Stdout, StringComparison.Ordinal);
        }
        string password = PasswordLine().Match(r.Stdout).Groups[1].Value;
        Assert.Equal(20, password.Length);
        Assert.True(File.Exists(Path.Combine(dir, "data", "hostkeys", "ecdsa-p256.pem")));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "data", "hostkeys", "rsa-2048.pem")));
        Assert.Equal(0, Cli.Run("config", "test", "--config", Path.Combine(dir, "postern.conf")).ExitCode);

        // Never overwrites.
        var again = Cli.Run("quickstart", "you@example.com", "--dir", dir, "--skip-checks");
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("never overwrites", again.Stderr, StringComparison.Ordinal);

        // Serve it on loopback ports (tests never bind other addresses) and log in over IMAPS.
        int imap = FreePort(), imaps = FreePort();
        // One pass over whole "port: N" lines: replacing one after another could rewrite a port just put in
        // (a free port 58723 starts with "587").
        var ports = new Dictionary<string, int> { ["143"] = imap, ["993"] = imaps, ["25"] = FreePort(), ["587"] = FreePort(), ["465"] = FreePort(), ["8010"] = FreePort() };
        string conf = Regex.Replace(File.ReadAllText(Path.Combine(dir, "postern.conf")).Replace("ips: [0.0.0.0, \"::\"]", "ips: [127.0.0.1]", StringComparison.Ordinal),
            @"port: (\d+)$", m => ports.TryGetValue(m.Groups[1].Value, out int p) ? $"port: {p}" : m.Value, RegexOptions.Multiline);
        Assert.DoesNotContain("port: 25\n", conf, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir, "postern.conf"), conf);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { PosternProcess.DllPath, "serve", "--config", Path.Combine(dir, "postern.conf") }) psi.ArgumentList.Add(a);
        using var serve = Process.Start(psi)!;
        var log = new StringBuilder();
        serve.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        serve.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        serve.BeginOutputReadLine();
        serve.BeginErrorReadLine();
        try
        {
            var until = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                lock (log) if (log.ToString().Contains("serving mail.example.com", StringComparison.Ordinal)) break;
                Assert.True(DateTime.UtcNow < until && !serve.HasExited, log.ToString());
                Thread.Sleep(50);
            }
            using var client = new TcpClient("127.0.0.1", imaps);
            X509Certificate? served = null;
            using var ssl = new SslStream(client.GetStream(), false, (_, cert, _, _) => { served = cert; return true; });
            ssl.AuthenticateAsClient("mail.example.com");
            using var expected = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(dir, "data", "tls", "mail.example.com.crt")));
            Assert.Equal(expected.Thumbprint, new X509Certificate2(served!).Thumbprint);
            // The printed TLSA 3 1 1 record matches the served key (DANE-EE, RFC 7671 §5.1).
            string spkiHash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(new X509Certificate2(served!).PublicKey.ExportSubjectPublicKeyInfo()));
            Assert.Contains("_25._tcp.mail.example.com. IN TLSA 3 1 1 " + spkiHash, r.Stdout, StringComparison.Ordinal);
            var reader = new StreamReader(ssl, Encoding.ASCII);
            Assert.StartsWith("* OK", reader.ReadLine(), StringComparison.Ordinal);
            ssl.Write(Encoding.ASCII.GetBytes($"a LOGIN you@example.com {password}\r\nb SELECT INBOX\r\n"));
            string? line;
            var lines = new List<string>();
            while ((line = reader.ReadLine()) is not null && !line.StartsWith("b ", StringComparison.Ordinal)) lines.Add(line);
            Assert.Contains(lines, l => l.StartsWith("a OK", StringComparison.Ordinal));
            Assert.StartsWith("b OK", line, StringComparison.Ordinal);
        }
        finally
        {
            // Not an assertion when the server already ended: that would hide why the test failed.
            if (!serve.HasExited)
            {
                var stop = Cli.Run("stop", "--config", Path.Combine(dir, "postern.conf"));
                if (stop.ExitCode != 0 || !serve.WaitForExit(30_000)) serve.Kill();
            }
        }
        var stopped = serve.WaitForExit(30_000);
        lock (log) Assert.True(stopped && serve.ExitCode == 0, log.ToString());
    }

    [Theory]
    [InlineData("not-an-address")]
    [InlineData("you@localhost")]
    [InlineData("you@exa mple.com")]
    public void Quickstart_refuses_what_is_not_a_public_email_address(string email)
    {
        using var tmp = new TempFolder();
        var r = Cli.Run("quickstart", email, "--dir", tmp.Sub("srv"), "--skip-checks");
        Assert.NotEqual(0, r.ExitCode);
        Assert.False(File.Exists(tmp.Sub("srv/postern.conf")));
    }
}
