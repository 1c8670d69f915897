using Postern.Testing;

namespace Postern.Imap.Tests.Interop;

/// <summary>Runs `postern localserve` on free loopback ports in a temporary folder; stopped by PID (tests/Shared/PosternServeProcess).</summary>
public sealed class LocalServeProcess : IDisposable
{
    private readonly PosternServeProcess _process;

    private LocalServeProcess(PosternServeProcess process, string dir, int imapPort, int imapsPort)
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

    public static int FreePort() => PosternServeProcess.FreePort();

    public static async Task<LocalServeProcess> StartAsync()
    {
        string dir = Path.Combine(Path.GetTempPath(), "postern-localserve-" + Guid.NewGuid().ToString("N"));
        int imap = FreePort(), imaps = FreePort();
        // Every port free, SMTP's too: two localserve processes (tests run in parallel) must not ask for the same one.
        var server = new LocalServeProcess(PosternServeProcess.Start(PosternDll(), "localserve", "--dir", dir, "--imap-port", imap.ToString(), "--imaps-port", imaps.ToString(),
            "--smtp-port", FreePort().ToString(), "--submission-port", FreePort().ToString(), "--submissions-port", FreePort().ToString()), dir, imap, imaps);
        if (!await server._process.TryWaitForLogAsync("Press Ctrl-C", 60))
        {
            string log = server._process.Log;
            server.Dispose();
            Assert.Fail("localserve did not start:\n" + log);
        }
        return server;
    }

    /// <summary>Sends SIGTERM (by PID) and waits for a clean exit; -1 when it had to be killed.</summary>
    public int Stop() => _process.Stop();

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
