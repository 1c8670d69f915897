// A `postern serve` or `postern localserve` child process of a test: started with `dotnet
// postern.dll ...`, its stdout and stderr collected line by line into Log, waited on by log lines
// (readiness), and stopped by PID: SIGTERM (ChildProcess.Stop) for a clean stop, SIGKILL for a
// crash, SIGKILL on dispose if it still runs.
//
// Linked, with ChildProcess.cs, into tests/Postern.Tests and tests/Postern.Imap.Tests:
// <Compile Include="../Shared/PosternServeProcess.cs" Link="Shared/PosternServeProcess.cs" />.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace Postern.Testing;

/// <summary>A running Postern server process with its output collected.</summary>
public sealed class PosternServeProcess : IDisposable
{
    private readonly StringBuilder _log = new();

    private PosternServeProcess(Process process) => Process = process;

    public Process Process { get; }

    /// <summary>Everything the server printed so far (stdout and stderr).</summary>
    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

    /// <summary>The postern.dll built for the same configuration and framework as the test project <paramref name="testProject"/> (e.g. Postern.Smtp.Tests).</summary>
    public static string PosternDll(string testProject)
    {
        string testDir = AppContext.BaseDirectory;
        string marker = Path.Combine("tests", testProject);
        int i = testDir.LastIndexOf(marker, StringComparison.Ordinal);
        Assert.True(i >= 0, "cannot locate the repository from " + testDir);
        string dll = Path.Combine(testDir[..i], "src", "Postern") + testDir[(i + marker.Length)..].TrimEnd('/') + "/postern.dll";
        Assert.True(File.Exists(dll), "postern.dll not built at " + dll);
        return dll;
    }

    /// <summary>Starts <c>dotnet <paramref name="posternDll"/> <paramref name="args"/></c>, e.g. <c>serve --config CONF</c>.</summary>
    public static PosternServeProcess Start(string posternDll, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(posternDll);
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        var s = new PosternServeProcess(Process.Start(psi)!);
        s.Process.OutputDataReceived += (_, e) => s.Append(e.Data);
        s.Process.ErrorDataReceived += (_, e) => s.Append(e.Data);
        s.Process.BeginOutputReadLine();
        s.Process.BeginErrorReadLine();
        return s;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log) _log.AppendLine(line);
    }

    /// <summary>Waits until the log holds <paramref name="text"/>; false when the process exits or <paramref name="seconds"/> pass first.</summary>
    public async Task<bool> TryWaitForLogAsync(string text, int seconds)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!Log.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow >= until || Process.HasExited) return false;
            await Task.Delay(50);
        }
        return true;
    }

    /// <summary>Waits (bounded, generously: the test machine may be loaded) until the log holds <paramref name="text"/>; fails the test otherwise.</summary>
    public async Task WaitForLogAsync(string text, int seconds = 120)
    {
        if (!await TryWaitForLogAsync(text, seconds))
            Assert.Fail($"no \"{text}\" in the log{(Process.HasExited ? " (the server exited)" : "")}:\n{Log}");
    }

    /// <summary>The same as <see cref="WaitForLogAsync"/>, blocking (for synchronous tests).</summary>
    public void WaitForLog(string text, int seconds = 120) => Task.Run(() => WaitForLogAsync(text, seconds)).GetAwaiter().GetResult();

    /// <summary>Waits (bounded) for the exit and then for the last output lines to be collected.</summary>
    public bool WaitForExit(int milliseconds)
    {
        if (!Process.WaitForExit(milliseconds)) return false;
        Process.WaitForExit(); // returns once the redirected output has reached its end
        return true;
    }

    /// <summary>Sends SIGTERM by PID, as systemd's stop does; the caller waits for the exit.</summary>
    public void Terminate() => ChildProcess.Signal(Process, "TERM");

    /// <summary>SIGTERM, then SIGKILL after <paramref name="graceMilliseconds"/>; the exit code, or <see cref="ChildProcess.TimedOut"/> when killed.</summary>
    public int Stop(int graceMilliseconds = 15_000) => ChildProcess.Stop(Process, graceMilliseconds);

    /// <summary>SIGKILL (a crash), and wait for the process to be gone.</summary>
    public void Kill()
    {
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        Process.WaitForExit();
    }

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(15_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        Process.Dispose();
    }

    /// <summary>A TCP port free at the moment on <paramref name="address"/> (loopback by default).</summary>
    public static int FreePort(IPAddress? address = null)
    {
        using var l = new TcpListener(address ?? IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
