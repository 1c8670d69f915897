using System.Net;
using System.Net.Sockets;
using System.Text;
using Postern.Security.Tls;

namespace Postern.Tests;

/// <summary>`postern import` goes through a running server's control socket, and writes the data folder itself when none runs.</summary>
public class ImportThroughServerTests
{
    private static string Message(int i) =>
        $"From: a@example.org\nTo: alice@mail.test\nSubject: imported {i}\nMessage-ID: <{i}@example.org>\nDate: Sat, 3 Jan 1996 01:05:34 +0000\n\nbody {i}\n";

    private static string Mbox(params int[] ids) =>
        string.Concat(ids.Select(i => "From a@example.org Sat Jan  3 01:05:34 1996\n" + Message(i) + "\n"));

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>A plain IMAP session on loopback (passwords are allowed there): a command and its tagged answer.</summary>
    private sealed class ImapSession : IDisposable
    {
        private readonly TcpClient _client;
        private readonly StreamReader _reader;
        private readonly Stream _stream;
        private int _tag;

        public ImapSession(int port)
        {
            _client = new TcpClient("127.0.0.1", port);
            _stream = _client.GetStream();
            _stream.ReadTimeout = 60_000;
            _reader = new StreamReader(_stream, Encoding.ASCII);
            _reader.ReadLine();
        }

        public string Run(string command)
        {
            string tag = "t" + ++_tag;
            _stream.Write(Encoding.ASCII.GetBytes($"{tag} {command}\r\n"));
            var sb = new StringBuilder();
            string? line;
            while ((line = _reader.ReadLine()) is not null)
            {
                sb.AppendLine(line);
                if (line.StartsWith(tag + " ", StringComparison.Ordinal)) break;
            }
            return sb.ToString();
        }

        public void Dispose() => _client.Dispose();
    }

    [Fact]
    public async Task Import_reaches_a_running_server_which_sees_it_at_once_and_a_stopped_one_is_written_directly()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        var add = Cli.RunWithInput("secret-password\n", "account", "add", "alice", "--password-stdin", "--dir", data);
        Assert.True(add.ExitCode == 0, add.Stderr + add.Stdout);
        Directory.CreateDirectory(tmp.Sub("tls"));
        using (var cert = TlsCertificates.CreateSelfSigned(new SelfSignedCertificateOptions { DnsNames = ["mail.test"] }))
            TlsCertificates.SavePem(cert, tmp.Sub("tls/cert.pem"), tmp.Sub("tls/key.pem"));
        int imap = FreePort();
        File.WriteAllText(tmp.Sub("postern.conf"), $$"""
            hostname: mail.test
            data-dir: data
            shutdown-grace-seconds: 2
            listeners:
              local:
                ips: [127.0.0.1]
                tls:
                  key-certs:
                    - {cert-file: tls/cert.pem, key-file: tls/key.pem}
                imap: {enabled: true, port: {{imap}}}
            dns:
              nameservers: ["127.0.0.1:9"]
            """);
        File.WriteAllText(tmp.Sub("a.mbox"), Mbox(1, 2, 3));
        File.WriteAllText(tmp.Sub("b.mbox"), Mbox(4, 5));

        using var serve = ServeProcess.Start(tmp.Sub("postern.conf"));
        try
        {
            await serve.WaitForLogAsync("serving mail.test");
            using var session = new ImapSession(imap);
            Assert.Contains("t1 OK", session.Run("LOGIN alice secret-password"), StringComparison.Ordinal);
            // The server has listed the account's mailboxes (and cached the list) before the import.
            Assert.DoesNotContain("Archive/2024", session.Run("LIST \"\" \"*\""), StringComparison.Ordinal);
            Assert.Contains("t3 OK", session.Run("SELECT INBOX"), StringComparison.Ordinal);

            var r = Cli.Run("import", "mbox", tmp.Sub("a.mbox"), "alice", "Archive/2024", "--dir", data);
            Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
            Assert.Contains("importing through it", r.Stdout, StringComparison.Ordinal);
            Assert.Contains("imported 3 messages", r.Stdout, StringComparison.Ordinal);
            Assert.Contains("through the running server", r.Stdout, StringComparison.Ordinal);
            Assert.Contains("import started kind=mbox", serve.Log, StringComparison.Ordinal);

            // The same session sees the new mailbox and its messages at once.
            Assert.Contains("Archive/2024", session.Run("LIST \"\" \"*\""), StringComparison.Ordinal);
            Assert.Contains("MESSAGES 3", session.Run("STATUS Archive/2024 (MESSAGES)"), StringComparison.Ordinal);

            // Into the selected mailbox: the session is told of the new messages.
            r = Cli.Run("import", "mbox", tmp.Sub("b.mbox"), "alice", "--dir", data);
            Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
            Assert.Contains("2 EXISTS", session.Run("NOOP"), StringComparison.Ordinal);

            // Errors come back from the server with exit code 1.
            r = Cli.Run("import", "mbox", tmp.Sub("b.mbox"), "nobody", "--dir", data);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("account nobody not found", r.Stderr, StringComparison.Ordinal);
            session.Run("LOGOUT");
        }
        finally
        {
            var stop = Cli.Run("stop", "--config", tmp.Sub("postern.conf"));
            Assert.True(stop.ExitCode == 0, stop.Stderr + stop.Stdout);
            Assert.True(serve.WaitForExit(60_000), serve.Log);
        }

        // Stopped: the command writes the data folder itself.
        var offline = Cli.Run("import", "mbox", tmp.Sub("b.mbox"), "alice", "Later", "--dir", data);
        Assert.True(offline.ExitCode == 0, offline.Stderr + offline.Stdout);
        Assert.DoesNotContain("through", offline.Stdout, StringComparison.Ordinal);
        var account = await Cli.ReadAccountAsync(data, "alice");
        Assert.Equal(3, account["Archive/2024"].Count);
        Assert.Equal(2, account["INBOX"].Count);
        Assert.Equal(2, account["Later"].Count);
        Assert.Equal(0, Cli.Run("verifydata", data).ExitCode);
    }
}
