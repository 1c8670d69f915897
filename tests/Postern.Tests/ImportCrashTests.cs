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

        // One uninterrupted import: the data folder must hold it whole.
        Assert.Equal(0, Cli.Run("import", "mbox", tmp.Sub("in.mbox"), "alice", "complete", "--dir", dir).ExitCode);

        // Kills are placed by progress, not by a clock measured once (other test classes run in
        // parallel and skew timings): wait for a random number of committed batches, then a random
        // extra delay, so kills land before the first commit, between commits and during them.
        int batches = Messages / Postern.Import.MessageImporter.MaxBatchMessages;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("POSTERN_CRASH_SEED"), out var sv) ? sv : Random.Shared.Next();
        var rnd = new Random(seed);
        int killedMidImport = 0;
        for (int run = 0; run < Kills; run++)
        {
            string mailbox = "run" + run;
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { PosternProcess.DllPath, "import", "mbox", tmp.Sub("in.mbox"), "alice", mailbox, "--log-batches", "--dir", dir })
                psi.ArgumentList.Add(a);
            long target = (long)rnd.Next(0, batches) * Postern.Import.MessageImporter.MaxBatchMessages;
            int extraDelayMs = target == 0 ? rnd.Next(50, 600) : rnd.Next(0, 120);
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (target == 0) reached.TrySetResult();
            using var p = Process.Start(psi)!;
            long acknowledged = 0;
            var reading = Task.Run(() =>
            {
                while (p.StandardOutput.ReadLine() is { } line)
                {
                    if (line.StartsWith("committed ", StringComparison.Ordinal))
                    {
                        long n = long.Parse(line["committed ".Length..]);
                        Interlocked.Exchange(ref acknowledged, n);
                        if (n >= target) reached.TrySetResult();
                    }
                }
                reached.TrySetResult();
            });
            _ = p.StandardError.ReadToEndAsync();
            await reached.Task.WaitAsync(TimeSpan.FromMinutes(2));
            Thread.Sleep(extraDelayMs);
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
        Assert.True(killedMidImport >= Kills / 2, $"seed {seed}: only {killedMidImport} kills hit a running import");
    }
}
