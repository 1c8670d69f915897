using System.Diagnostics;
using Postern.Smtp.Tests.Server;
using Postern.Testing;

namespace Postern.Smtp.Tests.Client;

/// <summary>`postern sendmail` as a cron job or web application runs it, against Postern's submission service.</summary>
public class SendmailTests
{
    private static string PosternDll() => PosternServeProcess.PosternDll("Postern.Smtp.Tests");

    private static async Task<(int Code, string Output)> SendmailAsync(string stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(PosternDll());
        psi.ArgumentList.Add("sendmail");
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await o + await e);
    }

    private static string Config(SmtpTestServer server, string dir)
    {
        string path = Path.Combine(dir, "sendmail.conf");
        File.WriteAllText(path, $"""
            # test settings
            host: 127.0.0.1
            port: {server.SubmissionPort}
            tls: starttls
            tls-verify: false
            username: alice
            password: {SmtpTestServer.Password}
            from: alice@example.org
            """);
        return path;
    }

    [Fact]
    public async Task Recipients_from_the_header_bcc_removed_and_missing_fields_added()
    {
        await using var server = await SmtpTestServer.StartAsync();
        string conf = Config(server, server.Dir);
        (int code, string output) = await SendmailAsync("To: Bob <bob@example.org>\nBcc: alice@example.org\nSubject: from cron\n\nhello\n.\nnot read\n",
            "--config", conf, "-t", "-oi", "-F", "Cron Daemon", "-f", "alice@example.org");
        Assert.True(code == 0, output);
        string bob = Assert.Single(await server.MessagesAsync("bob"));
        string alice = Assert.Single(await server.MessagesAsync("alice"));
        Assert.DoesNotContain("Bcc:", bob, StringComparison.Ordinal);
        Assert.Contains("From: Cron Daemon <alice@example.org>\r\n", bob, StringComparison.Ordinal);
        Assert.Contains("\r\nDate: ", bob, StringComparison.Ordinal);
        Assert.Contains("\r\nMessage-ID: <", bob, StringComparison.Ordinal);
        Assert.Contains("\r\n.\r\nnot read\r\n", bob, StringComparison.Ordinal); // -oi: a lone dot does not end the message
        Assert.Contains("Subject: from cron", alice, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_i_a_lone_dot_ends_the_message_and_arguments_name_recipients()
    {
        await using var server = await SmtpTestServer.StartAsync();
        string conf = Config(server, server.Dir);
        (int code, string output) = await SendmailAsync("Subject: dot\n\nbefore\n.\nafter\n", "--config", conf, "bob@example.org");
        Assert.True(code == 0, output);
        string bob = Assert.Single(await server.MessagesAsync("bob"));
        Assert.Contains("From: alice@example.org\r\n", bob, StringComparison.Ordinal);
        Assert.Contains("before", bob, StringComparison.Ordinal);
        Assert.DoesNotContain("after", bob, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_recipient_exits_69_and_an_unreachable_server_75()
    {
        await using var server = await SmtpTestServer.StartAsync();
        string conf = Config(server, server.Dir);
        (int code, string output) = await SendmailAsync("Subject: x\n\nx\n", "--config", conf, "nobody@example.org");
        Assert.True(code == 69, output);
        Assert.Contains("nobody@example.org: refused", output, StringComparison.Ordinal);

        File.WriteAllText(conf, File.ReadAllText(conf).Replace($"port: {server.SubmissionPort}", $"port: {Interop.PostfixInstance.FreePort()}", StringComparison.Ordinal));
        (code, output) = await SendmailAsync("Subject: x\n\nx\n", "--config", conf, "bob@example.org");
        Assert.True(code == 75, output);
        (code, output) = await SendmailAsync("Subject: x\n\nx\n", "--config", conf);
        Assert.True(code == 64, output);
    }
}
