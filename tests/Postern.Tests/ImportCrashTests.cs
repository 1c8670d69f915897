using System.Diagnostics;
using System.Text;

namespace Postern.Tests;

/// <summary>
/// Kills `postern import` with SIGKILL at random moments and checks, after each kill, that the
/// data folder verifies clean and that every message of a batch the import had reported as
/// committed is present, intact and in order.
/// </summary>
public class ImportCrashTests
{
    private const int Messages = 4000;
    private const int Kills = 20;

    private static string Message(int i) =>
        $"From: a@example.org\r\nSubject: m{i}\r\nMessage-ID: <{i}@crash.example>\r\n\r\n{new string((char)('a' + i % 26), 2000 + i % 3000)}\r\n";

    [Fact]
    public async Task Killed_imports_lose_nothing_acknowledged_and_verify_clean()
    {
        using var tmp = new TempFolder();
        var dir = tmp.Sub("data");
        Cli.AddAccount(dir, "alice");
        var mbox = new StringBuilder();
        for (int i = 0; i < Messages; i++)
            mbox.Append("From a@example.org Sat Jan  3 01:05:34 1996\n").Append(Message(i).Replace("\r\n", "\n")).Append('\n');
        File.WriteAllText(tmp.Sub("in.mbox"), mbox.ToString());

        // One uninterrupted import gives the time span in which kills land mid-import on this machine.
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, Cli.Run("import", "mbox", tmp.Sub("in.mbox"), "alice", "complete", "--dir", dir).ExitCode);
        int fullRunMs = (int)clock.ElapsedMilliseconds;

        int seed = int.TryParse(Environment.GetEnvironmentVariable("POSTERN_CRASH_SEED"), out var sv) ? sv : Random.Shared.Next();
        var rnd = new Random(seed);
        int killedMidImport = 0;
        for (int run = 0; run < Kills; run++)
        {
            string mailbox = "run" + run;
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { PosternProcess.DllPath, "import", "mbox", tmp.Sub("in.mbox"), "alice", mailbox, "--log-batches", "--dir", dir })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            long acknowledged = 0;
            var reading = Task.Run(() =>
            {
                while (p.StandardOutput.ReadLine() is { } line)
                {
                    if (line.StartsWith("committed ", StringComparison.Ordinal))
                        Interlocked.Exchange(ref acknowledged, long.Parse(line["committed ".Length..]));
                }
            });
            _ = p.StandardError.ReadToEndAsync();
            Thread.Sleep(rnd.Next(100, Math.Max(fullRunMs * 9 / 10, 200)));
            bool exited = p.HasExited;
            p.Kill(entireProcessTree: true); // SIGKILL on Unix
            p.WaitForExit();
            await reading;
            if (!exited)
                killedMidImport++;

            var verify = Cli.Run("verifydata", dir);
            Assert.True(verify.ExitCode == 0, $"seed {seed} run {run}: verifydata failed:\n{verify.Stdout}");

            var account = await Cli.ReadAccountAsync(dir, "alice");
            var stored = account.TryGetValue(mailbox, out var list) ? list : [];
            long ack = Interlocked.Read(ref acknowledged);
            Assert.True(stored.Count >= ack, $"seed {seed} run {run}: {ack} acknowledged, {stored.Count} stored");
            for (int i = 0; i < stored.Count; i++)
                Assert.True(Message(i) == stored[i].Text, $"seed {seed} run {run}: message {i} of {stored.Count} differs");
        }
        Assert.True(killedMidImport >= Kills / 2, $"seed {seed} (full run {fullRunMs} ms): only {killedMidImport} kills hit a running import");
    }
}
