using System.Diagnostics;
using System.Text;

namespace Postern.Tests;

/// <summary>`postern backup` while data is being written, and restoring from the copy.</summary>
public class BackupCommandTests
{
    private static string Message(int i) =>
        $"From: a@example.org\r\nSubject: b{i}\r\nMessage-ID: <{i}@backup.example>\r\n\r\n{new string((char)('a' + i % 26), 500 + i % 2000)}\r\n";

    private static void WriteMbox(string path, int count)
    {
        var mbox = new StringBuilder();
        for (int i = 0; i < count; i++)
            mbox.Append("From a@example.org Sat Jan  3 01:05:34 1996\n").Append(Message(i).Replace("\r\n", "\n")).Append('\n');
        File.WriteAllText(path, mbox.ToString());
    }

    [Fact]
    public async Task Backup_during_an_import_is_consistent_and_restores()
    {
        using var tmp = new TempFolder();
        string data = tmp.Sub("data");
        Cli.AddAccount(data, "alice");
        WriteMbox(tmp.Sub("in.mbox"), 3000);
        Assert.Equal(0, Cli.Run("import", "mbox", tmp.Sub("in.mbox"), "alice", "First", "--dir", data).ExitCode);

        // A second import writes while two backups run.
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { PosternProcess.DllPath, "import", "mbox", tmp.Sub("in.mbox"), "alice", "Second", "--dir", data })
            psi.ArgumentList.Add(a);
        using var import = Process.Start(psi)!;
        var importOut = import.StandardOutput.ReadToEndAsync();
        var importErr = import.StandardError.ReadToEndAsync();
        var b1 = Cli.Run("backup", tmp.Sub("b1"), "--dir", data);
        var b2 = Cli.Run("backup", tmp.Sub("b2"), "--dir", data);
        Assert.True(import.WaitForExit(300_000));
        Assert.True(import.ExitCode == 0, await importErr);
        foreach (var (b, name) in new[] { (b1, "b1"), (b2, "b2") })
        {
            Assert.True(b.ExitCode == 0, b.Stdout + b.Stderr);
            Assert.Contains("hard links", b.Stdout, StringComparison.Ordinal);
            var verify = Cli.Run("verifydata", tmp.Sub(name + "/data"));
            Assert.True(verify.ExitCode == 0, verify.Stdout);
            Assert.DoesNotContain("leftover", verify.Stdout, StringComparison.Ordinal);

            // Restore: the copied folder is a data folder; every message is intact and in order.
            var account = await Cli.ReadAccountAsync(tmp.Sub(name + "/data"), "alice");
            Assert.Equal(3000, account["First"].Count);
            var second = account.TryGetValue("Second", out var l) ? l : [];
            for (int i = 0; i < second.Count; i++)
                Assert.True(Message(i) == second[i].Text, $"{name}: message {i} differs");
        }

        // Message files of the copy are links: deleting the original leaves the copy whole.
        Directory.Delete(data, recursive: true);
        var restored = await Cli.ReadAccountAsync(tmp.Sub("b2/data"), "alice");
        Assert.Equal(Message(2999), restored["First"][2999].Text);
    }

    [Fact]
    public void Backup_refuses_a_non_empty_destination_and_a_missing_source()
    {
        using var tmp = new TempFolder();
        Cli.AddAccount(tmp.Sub("data"), "alice");
        Directory.CreateDirectory(tmp.Sub("dest"));
        File.WriteAllText(tmp.Sub("dest/x"), "x");
        var r = Cli.Run("backup", tmp.Sub("dest"), "--dir", tmp.Sub("data"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("not empty", r.Stderr, StringComparison.Ordinal);
        r = Cli.Run("backup", tmp.Sub("dest2"), "--dir", tmp.Sub("nothing"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("no such folder", r.Stderr, StringComparison.Ordinal);
        r = Cli.Run("backup", tmp.Sub("data/inside"), "--dir", tmp.Sub("data"));
        Assert.NotEqual(0, r.ExitCode);
    }
}
