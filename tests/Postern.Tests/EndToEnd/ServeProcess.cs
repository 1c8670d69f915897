using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Postern.Tests;

/// <summary>A `postern serve` child process with its output collected, stopped by PID on dispose.</summary>
internal sealed class ServeProcess : IDisposable
{
    private readonly StringBuilder _log = new();

    private ServeProcess(Process process) => Process = process;

    public Process Process { get; }

    /// <summary>Everything the server printed so far.</summary>
    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    public static ServeProcess Start(string conf)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { PosternProcess.DllPath, "serve", "--config", conf }) psi.ArgumentList.Add(a);
        var s = new ServeProcess(Process.Start(psi)!);
        s.Process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (s._log) s._log.AppendLine(e.Data); };
        s.Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (s._log) s._log.AppendLine(e.Data); };
        s.Process.BeginOutputReadLine();
        s.Process.BeginErrorReadLine();
        return s;
    }

    /// <summary>Waits (bounded, generously: the test machine may be loaded) until the log holds <paramref name="text"/>.</summary>
    public async Task WaitForLogAsync(string text, int seconds = 120)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!Log.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < until && !Process.HasExited, $"no \"{text}\" in the log{(Process.HasExited ? " (the server exited)" : "")}:\n{Log}");
            await Task.Delay(100);
        }
    }

    /// <summary>Waits (bounded) for the exit and then for the last output lines to be collected.</summary>
    public bool WaitForExit(int milliseconds)
    {
        if (!Process.WaitForExit(milliseconds)) return false;
        Process.WaitForExit(); // returns once the redirected output has reached its end
        return true;
    }

    /// <summary>Sends SIGTERM, as systemd's stop does.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", Process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill(true);
                Process.WaitForExit(15_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        Process.Dispose();
    }
}
