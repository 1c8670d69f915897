using System.Diagnostics;
using System.Net;
using Postern.Imap.Server;
using Postern.Smtp.Tests.Server;

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

    /// <summary>Runs a program, returning exit code and combined output; fails the test after a timeout.</summary>
    public static async Task<(int Code, string Output)> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{file} timed out: {await stdout}{await stderr}");
        }
        return (p.ExitCode, await stdout + await stderr);
    }

    public async ValueTask DisposeAsync()
    {
        await Imap.DisposeAsync();
        await Smtp.DisposeAsync();
    }
}
