using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Postern.Imap.Tests.Interop;

/// <summary>Runs `postern localserve` on free loopback ports in a temporary folder; stopped by PID.</summary>
public sealed class LocalServeProcess : IDisposable
{
    private readonly Process _process;

    private LocalServeProcess(Process process, string dir, int imapPort, int imapsPort)
    {
        _process = process;
        Dir = dir;
        ImapPort = imapPort;
        ImapsPort = imapsPort;
    }

    public string Dir { get; }
    public int ImapPort { get; }
    public int ImapsPort { get; }

    public static string PosternDll()
    {
        string testDir = AppContext.BaseDirectory;
        string marker = Path.Combine("tests", "Postern.Imap.Tests");
        int i = testDir.LastIndexOf(marker, StringComparison.Ordinal);
        Assert.True(i >= 0, "cannot locate the repository from " + testDir);
        string rest = testDir[(i + marker.Length)..];
        string dll = Path.Combine(testDir[..i], "src", "Postern") + rest.TrimEnd('/') + "/postern.dll";
        Assert.True(File.Exists(dll), "postern.dll not built at " + dll);
        return dll;
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static async Task<LocalServeProcess> StartAsync()
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-localserve-" + Guid.NewGuid().ToString("N"));
        int imap = FreePort(), imaps = FreePort();
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Every port free, SMTP's too: two localserve processes (tests run in parallel) must not ask for the same one.
        foreach (string a in new[] { PosternDll(), "localserve", "--dir", dir, "--imap-port", imap.ToString(), "--imaps-port", imaps.ToString(),
                     "--smtp-port", FreePort().ToString(), "--submission-port", FreePort().ToString(), "--submissions-port", FreePort().ToString() })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var ready = new TaskCompletionSource();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("Press Ctrl-C", StringComparison.Ordinal) == true)
                ready.TrySetResult();
        };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var server = new LocalServeProcess(p, dir, imap, imaps);
        if (await Task.WhenAny(ready.Task, Task.Delay(TimeSpan.FromSeconds(60))) != ready.Task)
        {
            server.Dispose();
            Assert.Fail("localserve did not start");
        }
        return server;
    }

    /// <summary>Sends SIGTERM (by PID) and waits for a clean exit.</summary>
    public int Stop()
    {
        if (_process.HasExited)
            return _process.ExitCode;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]))
            kill.WaitForExit();
        if (!_process.WaitForExit(15_000))
        {
            _process.Kill();
            return -1;
        }
        return _process.ExitCode;
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
        try
        {
            Directory.Delete(Dir, true);
        }
        catch (IOException)
        {
        }
    }
}
