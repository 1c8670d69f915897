namespace Postern.Smtp.Tests.Interop;

/// <summary>Python's smtplib (Debian's /usr/bin/python3) as the client; messages read back with imaplib.</summary>
public class SmtplibTests
{
    [Fact]
    public async Task Smtplib_plain_starttls_smtputf8_and_auth_then_imap_read_back()
    {
        await using var p = await PeerServers.StartAsync();
        await p.Smtp.Store.Directory.AddAddressAsync("jösé@example.org", "alice");
        string script = Path.Combine(AppContext.BaseDirectory, "Interop", "smtplib_suite.py");
        (int code, string output) = await PeerServers.RunAsync("/usr/bin/python3",
        [
            script, p.Smtp.MxPort.ToString(), p.Smtp.SubmissionPort.ToString(), p.Smtp.SubmissionsPort.ToString(), p.ImapPort.ToString(),
            "alice@example.org", Server.SmtpTestServer.Password, "alice@example.org",
        ]);
        Assert.True(code == 0, output);
        Assert.Contains("smtplib suite passed", output);
    }
}
