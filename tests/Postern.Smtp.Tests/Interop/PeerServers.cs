using System.Net;
using Postern.Imap.Server;
using Postern.Smtp.Tests.Server;
using Postern.Testing;

namespace Postern.Smtp.Tests.Interop;

/// <summary>An SMTP test server plus an IMAP server over the same store, and helpers to run real peers.</summary>
public sealed class PeerServers : IAsyncDisposable
{
    private PeerServers(SmtpTestServer smtp, ImapServer imap)
    {
        Smtp = smtp;
        Imap = imap;
    }

    public SmtpTestServer Smtp { get; }
    public ImapServer Imap { get; }
    public int ImapPort => Imap.BoundEndPoints[0].Port;

    public static async Task<PeerServers> StartAsync()
    {
        SmtpTestServer smtp = await SmtpTestServer.StartAsync();
        var imap = new ImapServer(new ImapServerOptions
        {
            Listeners = [new ImapListener(new IPEndPoint(IPAddress.Loopback, 0), false)],
            MaxConnectionsPerIp = 1000,
        }, smtp.Store);
        imap.Start();
        return new PeerServers(smtp, imap);
    }

    /// <summary>
    /// The messages of a mailbox as a real IMAP client reads them: Python's imaplib logs in to the IMAP server over the
    /// same store with the test password and fetches every message whole (BODY.PEEK[]); each comes back as text.
    /// </summary>
    public async Task<List<string>> ImapMessagesAsync(string login, string mailbox = "INBOX")
    {
        const string script = """
            import base64, imaplib, sys
            port, user, password, mailbox = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
            with imaplib.IMAP4("127.0.0.1", int(port)) as i:
                i.login(user, password)
                typ, data = i.select(mailbox, readonly=True)
                assert typ == "OK", data
                if int(data[0]) > 0:
                    typ, data = i.fetch("1:*", "(BODY.PEEK[])")
                    assert typ == "OK", data
                    for part in data:
                        if isinstance(part, tuple):
                            print("MESSAGE " + base64.b64encode(part[1]).decode("ascii"))
            """;
        (int code, string output) = await RunAsync("/usr/bin/python3", ["-c", script, ImapPort.ToString(System.Globalization.CultureInfo.InvariantCulture), login, SmtpTestServer.Password, mailbox]);
        Assert.True(code == 0, "imaplib: " + output);
        return output.Split('\n')
            .Where(l => l.StartsWith("MESSAGE ", StringComparison.Ordinal))
            .Select(l => System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(l["MESSAGE ".Length..].Trim())))
            .ToList();
    }

    /// <summary>Runs a program (<see cref="ChildProcess.RunAsync"/>), returning exit code and combined output; fails the test after a timeout.</summary>
    public static async Task<(int Code, string Output)> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        (int code, string output) = await ChildProcess.RunAsync(file, args, timeout);
        if (code == ChildProcess.TimedOut)
            Assert.Fail(output);
        return (code, output);
    }

    public async ValueTask DisposeAsync()
    {
        await Imap.DisposeAsync();
        await Smtp.DisposeAsync();
    }
}
