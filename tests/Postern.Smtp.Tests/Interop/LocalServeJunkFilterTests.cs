using Postern.Testing;

namespace Postern.Smtp.Tests.Interop;

/// <summary>
/// The junk filter as a user meets it, on `postern localserve` with Python's smtplib and imaplib
/// (junk_filter_client.py): mail arrives; the user moves the junk into Junk and marks the rest
/// $NotJunk; the server trains from that; new junk then lands in Junk and new ordinary mail in
/// the inbox. `postern junk status|check|retrain` see the same training.
/// </summary>
public class LocalServeJunkFilterTests
{
    private const int Taught = 25; // each kind; the filter classifies from 20 of each

    private static string PosternDll() => PosternServeProcess.PosternDll("Postern.Smtp.Tests");

    [Fact]
    public async Task Mail_moved_to_junk_teaches_the_filter_and_new_junk_lands_in_junk()
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-localserve-junk-" + Guid.NewGuid().ToString("N"));
        string data = Path.Combine(dir, "data");
        int imap = PostfixInstance.FreePort(), smtp = PostfixInstance.FreePort();
        using var p = PosternServeProcess.Start(PosternDll(), "localserve", "--dir", dir, "--imap-port", imap.ToString(), "--imaps-port", PostfixInstance.FreePort().ToString(),
            "--smtp-port", smtp.ToString(), "--submission-port", PostfixInstance.FreePort().ToString(), "--submissions-port", PostfixInstance.FreePort().ToString());
        string client = Path.Combine(AppContext.BaseDirectory, "Interop", "junk_filter_client.py");
        try
        {
            Assert.True(await p.TryWaitForLogAsync("Press Ctrl-C", 60), "localserve did not start:\n" + p.Log);
            (int code, string o) = await PeerServers.RunAsync("dotnet", [PosternDll(), "junk", "status", "--dir", data]);
            Assert.True(code == 0, o);
            Assert.Contains("postern: junk=0 notjunk=0 words=0 learning (needs 20 more junk, 20 more not junk)", o, StringComparison.Ordinal);

            (code, o) = await PeerServers.RunAsync("/usr/bin/python3", [client, "teach", smtp.ToString(), imap.ToString(), Taught.ToString()], TimeSpan.FromMinutes(2));
            Assert.True(code == 0, o + "\n" + p.Log);
            // The trainer follows the account's keyword changes a moment later.
            var until = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                (code, o) = await PeerServers.RunAsync("dotnet", [PosternDll(), "junk", "status", "postern", "--dir", data]);
                if (o.Contains($"junk={Taught} notjunk={Taught}", StringComparison.Ordinal)) break;
                Assert.True(DateTime.UtcNow < until, "not trained: " + o + "\n" + p.Log);
                await Task.Delay(500);
            }
            Assert.Contains(" classifying", o, StringComparison.Ordinal);
            Assert.Contains("junk trained account=postern", p.Log, StringComparison.Ordinal);

            (code, o) = await PeerServers.RunAsync("/usr/bin/python3", [client, "probe", smtp.ToString(), imap.ToString(), "5"], TimeSpan.FromMinutes(2));
            Assert.True(code == 0, o + "\n" + p.Log);
            var lines = o.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            for (int i = 0; i < 5; i++)
            {
                Assert.Contains(lines, l => l.StartsWith($"Junk probe-junk-{i} ", StringComparison.Ordinal) && !l.Contains("$Junk", StringComparison.Ordinal)); // the filter's decision is not a user's mark
                Assert.Contains(lines, l => l.StartsWith($"INBOX probe-ham-{i} ", StringComparison.Ordinal));
            }
            // MOVE into Junk marked what it moved: the training came from there.
            Assert.Equal(Taught, lines.Count(l => l.StartsWith("Junk teach-junk-", StringComparison.Ordinal) && l.Contains("$Junk", StringComparison.Ordinal)));
            Assert.Equal(Taught, lines.Count(l => l.StartsWith("INBOX teach-ham-", StringComparison.Ordinal) && l.Contains("$NotJunk", StringComparison.Ordinal)));
            Assert.Contains("junk classified", p.Log, StringComparison.Ordinal);
            Assert.Contains("junk=True", p.Log, StringComparison.Ordinal);

            // `junk check` explains a decision; `junk retrain` rebuilds the same totals from the keywords.
            string probe = Path.Combine(dir, "probe.eml");
            await File.WriteAllTextAsync(probe, "From: promo1@deals2.example\r\nSubject: claim your lottery prize\r\n\r\nwinner claim your free prize http://win1.prizes.example/claim\r\n");
            (code, o) = await PeerServers.RunAsync("dotnet", [PosternDll(), "junk", "check", "postern", probe, "--dir", data]);
            Assert.True(code == 0, o);
            Assert.Matches(@"^probability=(0\.9[5-9]|1\.0)\d* junk \(threshold 0\.95, \d+ telling words\)", o);
            Assert.Contains("url:prizes.example", o, StringComparison.Ordinal);
            (code, o) = await PeerServers.RunAsync("dotnet", [PosternDll(), "junk", "retrain", "postern", "--dir", data]);
            Assert.True(code == 0, o);
            Assert.Contains($"retrained {2 * Taught} messages; postern now has junk={Taught} notjunk={Taught}", o, StringComparison.Ordinal);

            // `junk set`: the account's own settings, shown by `junk status`; bad values are named.
            (code, o) = await PeerServers.RunAsync("dotnet", [PosternDll(), "junk", "set", "postern", "--enabled", "false", "--threshold", "0.99", "--dir", data]);
            Assert.True(code == 0, o);
            Assert.Contains("postern: junk filter off, threshold 0.99", o, StringComparison.Ordinal);
            (code, o) = await PeerServers.RunAsync("dotnet", [PosternDll(), "junk", "status", "--dir", data]);
            Assert.Contains("threshold=0.99 off (learning goes on", o, StringComparison.Ordinal);
            (code, o) = await PeerServers.RunAsync("dotnet", [PosternDll(), "junk", "set", "postern", "--threshold", "0.2", "--dir", data]);
            Assert.Equal(1, code);
            Assert.Contains("--threshold must be above 0.5 and at most 1", o, StringComparison.Ordinal);
        }
        finally
        {
            p.Stop();
            try
            {
                Directory.Delete(dir, true);
            }
            catch (IOException)
            {
            }
        }
    }
}
