namespace Postern.Smtp.Tests.Interop;

/// <summary>swaks (Debian package) as the client, with each AUTH mechanism it shares with us, and PIPELINING, CHUNKING (BDAT); delivered messages are read back over IMAP (imaplib).</summary>
public class SwaksTests
{
    private static IEnumerable<string> Common(int port, string to, string from) =>
        ["--server", "127.0.0.1:" + port, "--to", to, "--from", from, "--helo", "client.example", "--timeout", "30"];

    [Theory]
    [InlineData("PLAIN")]
    [InlineData("LOGIN")]
    [InlineData("CRAM-MD5")]
    public async Task Swaks_authenticates_and_submits(string mechanism)
    {
        await using var p = await PeerServers.StartAsync();
        (int code, string output) = await PeerServers.RunAsync("swaks",
            [.. Common(p.Smtp.SubmissionPort, "bob@example.org", "alice@example.org"), "-tls", "--auth", mechanism,
             "--auth-user", "alice@example.org", "--auth-password", Server.SmtpTestServer.Password, "--header", "Subject: swaks " + mechanism]);
        Assert.True(code == 0, output);
        Assert.Contains("235 2.7.0", output);
        string m = Assert.Single(await p.ImapMessagesAsync("bob@example.org"));
        Assert.Contains("Subject: swaks " + mechanism, m);
        Assert.Contains("with ESMTPSA", m);
    }

    [Fact]
    public async Task Swaks_pipelining_and_bdat()
    {
        await using var p = await PeerServers.StartAsync();
        (int code, string output) = await PeerServers.RunAsync("swaks", [.. Common(p.Smtp.MxPort, "alice@example.org", "x@remote.example"), "--pipeline"]);
        Assert.True(code == 0, output);
        (code, output) = await PeerServers.RunAsync("swaks", [.. Common(p.Smtp.MxPort, "alice@example.org", "x@remote.example"), "--tls-on-connect", "--server", "127.0.0.1:" + p.Smtp.SubmissionsPort]);
        Assert.NotEqual(0, code); // submission needs AUTH
        Assert.Contains("530 5.7.0", output);
        string m = Assert.Single(await p.ImapMessagesAsync("alice@example.org"));
        Assert.Contains("Return-Path: <x@remote.example>", m);
        Assert.Contains("with ESMTP", m);
    }

    [Fact]
    public async Task Swaks_refused_relay()
    {
        await using var p = await PeerServers.StartAsync();
        (int code, string output) = await PeerServers.RunAsync("swaks", Common(p.Smtp.MxPort, "someone@elsewhere.example", "x@remote.example"));
        Assert.NotEqual(0, code);
        Assert.Contains("550 5.7.1", output);
    }
}
