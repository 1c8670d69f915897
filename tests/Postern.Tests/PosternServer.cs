using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Postern.Tests;

/// <summary>A `postern serve` process of a test: its output collected, waited on by log lines, killed by PID.</summary>
public sealed class PosternServer : IDisposable
{
    private readonly StringBuilder _log = new();

    private PosternServer(Process process) => Process = process;

    public Process Process { get; }

    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

    /// <summary>Starts `postern serve --config CONF`.</summary>
    public static PosternServer Start(string conf)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { PosternProcess.DllPath, "serve", "--config", conf }) psi.ArgumentList.Add(a);
        var s = new PosternServer(Process.Start(psi)!);
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

    /// <summary>Waits (bounded, generous) until the log has <paramref name="text"/>; fails if the process exits first.</summary>
    public async Task WaitForLogAsync(string text, int seconds = 180)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!Log.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < until && !Process.HasExited, $"no \"{text}\" in the log:\n{Log}");
            await Task.Delay(50);
        }
    }

    /// <summary>SIGKILL, and wait for the process to be gone.</summary>
    public void Kill()
    {
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        Process.WaitForExit();
    }

    public void Dispose()
    {
        Kill();
        Process.Dispose();
    }

    public static int FreePort(IPAddress? address = null)
    {
        using var l = new TcpListener(address ?? IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
