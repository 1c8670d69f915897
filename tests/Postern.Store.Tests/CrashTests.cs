using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Postern.Store;
using Postern.Store.Sqlite;

namespace Postern.Store.Tests;

/// <summary>
/// Durability under SIGKILL: a child process (Postern.Store.CrashHost) appends from several writers and prints each UID
/// once its append returned; it is killed at random moments, then the store must verify clean (after the safe removal
/// of explainable leftovers) and hold every printed message with the right content.
/// </summary>
public class CrashTests
{
    private const int Kills = 20;

    private static string CrashHostPath()
    {
        // bin/<Configuration>/net10.0 of the test assembly maps to the host's own output folder.
        string here = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        string tfm = Path.GetFileName(here);
        string config = Path.GetFileName(Path.GetDirectoryName(here)!);
        string testsDir = Path.GetFullPath(Path.Combine(here, "..", "..", "..", ".."));
        string dll = Path.Combine(testsDir, "Postern.Store.CrashHost", "bin", config, tfm, "Postern.Store.CrashHost.dll");
        Assert.True(File.Exists(dll), $"crash host not built at {dll}");
        return dll;
    }

    [Fact]
    public async Task Sigkill_at_random_moments_loses_no_acknowledged_message()
    {
        if (OperatingSystem.IsWindows()) return;
        string host = CrashHostPath();
        string dir = Path.Combine(Path.GetTempPath(), "postern-crash-" + Guid.NewGuid().ToString("N"));
        var acknowledged = new ConcurrentDictionary<uint, long>();
        var rnd = new Random(12345);
        try
        {
            for (int round = 0; round < Kills; round++)
            {
                int before = acknowledged.Count;
                var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                psi.ArgumentList.Add(host);
                psi.ArgumentList.Add(dir);
                using var proc = Process.Start(psi)!;
                var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var stderr = proc.StandardError.ReadToEndAsync();
                var reader = Task.Run(async () =>
                {
                    while (await proc.StandardOutput.ReadLineAsync() is { } line)
                    {
                        if (line == "READY") ready.TrySetResult();
                        var parts = line.Split(' ');
                        // A line cut by the kill lacks its final "." and is ignored.
                        if (parts.Length == 4 && parts[0] == "A" && parts[3] == ".")
                            acknowledged[uint.Parse(parts[1], CultureInfo.InvariantCulture)] = long.Parse(parts[2], CultureInfo.InvariantCulture);
                    }
                });
                var started = await Task.WhenAny(ready.Task, proc.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
                Assert.True(ready.Task.IsCompleted, "crash host did not start: " + (proc.HasExited ? await stderr : "timeout"));
                if (round == 0)
                {
                    // The first round makes sure writing works at all before killing.
                    for (int wait = 0; wait < 600 && acknowledged.IsEmpty; wait++) await Task.Delay(100);
                }
                await Task.Delay(rnd.Next(0, 700));
                proc.Kill(); // SIGKILL on Unix
                await proc.WaitForExitAsync();
                await reader;
                Assert.True(round > 0 || acknowledged.Count > before, "no append acknowledged before the kill");

                var problems = await new StoreVerifier(dir).VerifyAsync(fix: true);
                Assert.All(problems, p => Assert.True(p.Explainable && p.Fixed, $"after kill {round}: {p.Location}: {p.Description}"));
                Assert.Empty(await new StoreVerifier(dir).VerifyAsync());
            }

            await using var store = SqliteMailStore.Open(dir);
            await using var account = await store.OpenAccountAsync("crash");
            long inbox = (await account.GetMailboxAsync("INBOX"))!.Id;
            var present = (await account.ListMessagesAsync(inbox)).Select(m => m.Uid).ToHashSet();
            Assert.True(acknowledged.Count >= Kills, $"only {acknowledged.Count} appends acknowledged");
            foreach (var (uid, n) in acknowledged)
            {
                Assert.Contains(uid, present);
            }
            foreach (var (uid, n) in acknowledged.OrderBy(_ => rnd.Next()).Take(200))
            {
                await using var s = await account.OpenContentAsync(inbox, uid);
                using var sr = new StreamReader(s);
                Assert.Equal($"Subject: crash {n}", await sr.ReadLineAsync());
            }
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}
